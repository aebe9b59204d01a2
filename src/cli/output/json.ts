// JSON for scripts. JSON.stringify escapes the C0 controls but leaves the C1 ones (U+0080–U+009F)
// raw: still valid JSON, yet a terminal showing it acts on them (U+009B opens a CSI sequence, as
// ESC [ does). Outside strings JSON text is ASCII, so every one of them is inside a string.
// eslint-disable-next-line no-control-regex
const C1_CONTROL = /[\u0080-\u009f]/g;

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(C1_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One JSON value on stdout, the whole of what a `--json` command prints there. */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value, 2)}\n`);
}
