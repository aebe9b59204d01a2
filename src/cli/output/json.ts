// JSON for scripts. JSON.stringify escapes the C0 controls but leaves the C1 ones (U+0080–U+009F)
// raw: still valid JSON, yet a terminal showing it acts on them (U+009B opens a CSI sequence, as
// ESC [ does). Outside strings JSON text is ASCII, so every one of them is inside a string.
// eslint-disable-next-line no-control-regex
const C1_CONTROL = /[\u0080-\u009f]/g;

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(C1_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const JSON_PIECE = 1 << 20;

/**
 * Prints `value` as indented JSON. An array is written a record at a time, in pieces: the whole
 * of `list --json` over 200,000 finished tasks is more than the longest string V8 can make.
 */
export function printJson(value: unknown): void {
  if (!Array.isArray(value) || value.length === 0) {
    process.stdout.write(`${toJson(value, 2)}\n`);
    return;
  }
  let piece = "[\n";
  value.forEach((item, i) => {
    // JSON strings hold no raw newline: every one is a line break of the layout, indented one level more.
    piece += `  ${toJson(item, 2).replaceAll("\n", "\n  ")}${i < value.length - 1 ? ",\n" : "\n]\n"}`;
    if (piece.length >= JSON_PIECE) {
      process.stdout.write(piece);
      piece = "";
    }
  });
  process.stdout.write(piece);
}
