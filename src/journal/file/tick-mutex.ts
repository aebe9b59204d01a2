// The tick mutex: <home>/tick.json names the tick that runs (pid, start time, boot id). Replaced
// only under the journal lock, and only when free or still held by the holder the caller judged
// gone (core's holdsTick): a tick killed with SIGKILL frees it at once, and a live tick holds it
// however long its budget.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isSameHolder, type TickHolder } from "../../core/recovery.ts";
import { journalIoError } from "../../errors.ts";
import { uniqueName } from "../../host/unique-name.ts";

function tickPath(home: string): string {
  return join(home, "tick.json");
}

/** The holder tick.json names, or null. */
export function readTick(home: string): TickHolder | null {
  try {
    const holder = JSON.parse(readFileSync(tickPath(home), "utf8")) as TickHolder;
    return typeof holder?.process?.pid === "number" ? holder : null;
  } catch {
    // absent, or torn by a crash mid-write: nobody holds it
    return null;
  }
}

/** Takes the mutex for `holder` unless a tick other than `vacated` has it; returns that tick, or null when taken. Call under the journal lock. */
export function takeTick(home: string, holder: TickHolder, vacated: TickHolder | null): TickHolder | null {
  const current = readTick(home);
  if (current && !(vacated !== null && isSameHolder(current, vacated))) return current;
  // Replaced by rename, never written through: a planted symlink is not followed. No fsync needed:
  // after a crash the holder it names is dead, which frees the mutex anyway.
  const temp = `${tickPath(home)}.${uniqueName()}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(holder), { mode: 0o600, flag: "wx" });
    renameSync(temp, tickPath(home));
  } catch (error) {
    // A full disk fails the write after the file was made: leave nothing behind, tick.json as it was.
    try {
      unlinkSync(temp);
    } catch {
      // never made
    }
    throw journalIoError(tickPath(home), error);
  }
  return null;
}

/** Gives the mutex back if `holder` still has it. Call under the journal lock. */
export function giveBackTick(home: string, holder: TickHolder): void {
  const current = readTick(home);
  if (!current || !isSameHolder(current, holder)) return;
  try {
    unlinkSync(tickPath(home));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw journalIoError(tickPath(home), error);
  }
}
