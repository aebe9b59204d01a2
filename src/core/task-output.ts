// The rules for what a task leaves besides its record, its log and its attachments, whichever
// journal keeps them: which names an attachment may have, how big one may be, how log text is cut
// into pieces. Pure: no I/O.

/** The most an attachment may hold on a journal that keeps attachments in the database (PostgreSQL). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;

/** The pieces such an attachment is stored and read in: big enough for few rows, small enough to stream. */
export const ATTACHMENT_CHUNK_BYTES = 256 * 1024;

const MAX_NAME = 200;

/** Why `name` cannot be an attachment name, or null when it can. */
export function attachmentNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "it must be a non-empty string";
  if (name.length > MAX_NAME) return `it is longer than ${MAX_NAME} characters`;
  if (name === "." || name === "..") return "it names a folder";
  if (/[/\\]/.test(name)) return "it contains a path separator";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "it contains a control character";
  if (name.startsWith(".bgtask-")) return "names starting with .bgtask- are reserved";
  return null;
}

/** The sentence refusing an attachment over `limit` bytes (`size` is what was seen when it was refused: at least that much). */
export function attachmentTooLarge(name: string, size: number, limit = MAX_ATTACHMENT_BYTES): string {
  return `attachment ${JSON.stringify(name)} is refused: it has more than ${limit} bytes (${size} seen), over the limit of ${limit / 1024 / 1024} MiB an attachment may have on this journal`;
}

/**
 * Cuts log text (whole lines, each ending with "\n") into pieces of at most about `maxBytes`,
 * each made of whole lines: a line longer than that is a piece of its own.
 */
export function logPieces(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    // As many UTF-16 units as bytes when that fits (ASCII), else a third: no unit is more than 3 bytes in UTF-8.
    let units = Math.max(1, maxBytes);
    if (Buffer.byteLength(text.slice(start, start + units)) > maxBytes) units = Math.max(1, Math.floor(maxBytes / 3));
    let end = Math.min(text.length, start + units);
    if (end < text.length) {
      const newline = text.lastIndexOf("\n", end - 1);
      end = newline >= start ? newline + 1 : text.indexOf("\n", end) + 1 || text.length;
    }
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

/** The note a log gets once lines could be written again after some could not. */
export function lostLinesNote(lines: number, reason: string): string {
  return `${lines} log line(s) before this one could not be written (${reason})`;
}
