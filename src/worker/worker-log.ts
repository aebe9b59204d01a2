// A line about the worker itself for logs/worker.log (or a tick's stderr, which cron mails). Written
// straight to fd 2: during a try process.stderr is captured into the task's log, and in the
// supervisor thread it would wait for the main thread, which a busy executor blocks.
// Never throws: the log sits on the disk it may be reporting full. Lines it could not write are
// kept (a few) and written, with their own times, before the next line that can be.
import { writeSync } from "node:fs";

const MAX_KEPT = 50;
/** Lines (or what is left of one cut partway) still to be written, oldest first. */
const kept: Buffer[] = [];
let dropped = 0;

/** Writes `line` to fd 2; false, with what is left of it first in `kept`, when the write fails partway. */
function tryWrite(data: Buffer, queued: boolean): boolean {
  let written = 0;
  try {
    while (written < data.length) written += writeSync(2, data, written, data.length - written);
    if (queued) kept.shift();
    return true;
  } catch {
    const rest = data.subarray(written);
    if (queued) kept[0] = rest;
    else if (kept.length < MAX_KEPT) kept.push(rest);
    else dropped += 1;
    return false;
  }
}

function say(text: string): Buffer {
  return Buffer.from(`${new Date().toISOString()} bgtask worker ${process.pid}: ${text}\n`);
}

export function workerSay(text: string): void {
  while (kept.length > 0) if (!tryWrite(kept[0]!, true)) break;
  if (kept.length === 0 && dropped > 0) {
    const lost = dropped;
    dropped = 0;
    tryWrite(say(`${lost} earlier lines could not be written`), false);
  }
  const line = say(text);
  if (kept.length > 0) {
    if (kept.length < MAX_KEPT) kept.push(line);
    else dropped += 1;
    return;
  }
  tryWrite(line, false);
}
