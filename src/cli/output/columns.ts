// Terminal columns of a line of text. Printable ASCII, styles and bgtask's own narrow symbols are
// as wide as they are long; anything else is measured by string-width, whose set-up (an
// Intl.Segmenter and its Unicode tables) costs ≈ 30 ms of a command's start: it is loaded only
// when a command has such text to show (loadColumnsFor), before it renders.
// eslint-disable-next-line no-control-regex
const STYLE = /\u001b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const SIMPLE = /^(?:[\x20-\x7e█░·…→—]|\u001b\[[0-9;]*m)*$/;

let measure: ((text: string) => number) | null = null;

/** Loads string-width when any of `texts` (a JSON of records will do) holds characters it must measure. */
export async function loadColumnsFor(...texts: string[]): Promise<void> {
  if (measure === null && texts.some((text) => !SIMPLE.test(text.replace(/[\n\t]/g, " ")))) {
    measure = (await import("string-width")).default;
  }
}

export function columns(text: string): number {
  if (SIMPLE.test(text)) return text.replace(STYLE, "").length;
  // Not loaded (a caller that did not expect such text): counted by code points, never a crash.
  return measure ? measure(text) : Array.from(text.replace(STYLE, "")).length;
}
