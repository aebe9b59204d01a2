// Who a process is on this machine, in a way that survives PID reuse: pid + start time + boot id.
// Used to decide whether a worker recorded in the journal is still alive.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Liveness } from "../core/recovery.ts";
import type { WorkerRef } from "../core/task.ts";

export type { Liveness };

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

interface ProcStat {
  /** "R", "S", … ; "Z" (zombie) and "X" (dead) have exited and only hold their pid. */
  state: string;
  processGroup: number;
  /** Clock ticks since boot (field 22). */
  startTime: number;
}

/** The fields of /proc/<pid>/stat bgtask uses, or null when unreadable (no such pid, or not Linux). */
function readStat(pid: number): ProcStat | null {
  const stat = tryRead(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) may contain spaces and parentheses: fields resume after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const processGroup = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (!Number.isFinite(processGroup) || !Number.isFinite(startTime)) return null;
  return { state: fields[0]!, processGroup, startTime };
}

const exited = (stat: ProcStat) => stat.state === "Z" || stat.state === "X";

/** Start time of a live process in clock ticks since boot, or null (gone, exited, or off Linux). */
export function processStartTime(pid: number): number | null {
  const stat = readStat(pid);
  return stat === null || exited(stat) ? null : stat.startTime;
}

let cachedBootId: string | null | undefined;
export function bootId(): string | null {
  cachedBootId ??= tryRead("/proc/sys/kernel/random/boot_id")?.trim() ?? null;
  return cachedBootId;
}

export function currentProcess(): WorkerRef {
  return { pid: process.pid, host: hostname(), startTime: processStartTime(process.pid), bootId: bootId() };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process a record names is still the one that wrote it. "unknown" for another host,
 * where only the heartbeat can tell.
 */
export function liveness(ref: WorkerRef): Liveness {
  if (ref.host !== hostname()) return "unknown";
  const boot = bootId();
  if (ref.bootId !== null && boot !== null && ref.bootId !== boot) return "dead";
  if (!pidExists(ref.pid)) return "dead";
  if (ref.startTime === null) return "alive";
  const start = processStartTime(ref.pid);
  if (start === null) return pidExists(ref.pid) && tryRead(`/proc/${ref.pid}/stat`) === null ? "alive" : "dead";
  return start === ref.startTime ? "alive" : "dead";
}

function sigkill(target: number): void {
  try {
    process.kill(target, "SIGKILL");
  } catch {
    // gone already (ESRCH): nothing left to stop
  }
}

/** Whether terminate can act on the process `ref` names: one of this host's, gone, or alive with a start time to check it by. */
export function canTerminate(ref: WorkerRef, state: Liveness = liveness(ref)): boolean {
  return state === "dead" || (state === "alive" && ref.startTime !== null);
}

/** "killed": signalled; "gone": it had exited; "unverifiable": another host, or no start time to check, so left alone. */
export type Termination = "killed" | "gone" | "unverifiable";

/**
 * SIGKILLs the process a record names, with its process group when it leads one (a detached worker
 * and the children its executor started), after checking it is still that process: a reused pid is
 * never signalled. When the process has already exited, children left in its group are killed, but
 * only in the same boot and while its pid is free or still held by it as a zombie (Linux does not
 * hand out a pid that is still a live group's id, so such a group can only be the dead worker's).
 * The check and the kill are two system calls: a pid freed and reused between them (microseconds)
 * is the one race left, as with any pid-based tool; Node has no pidfd to close it.
 */
export function terminate(ref: WorkerRef): Termination {
  const state = liveness(ref);
  if (!canTerminate(ref, state)) return "unverifiable";
  if (state === "dead") {
    const sameBoot = ref.bootId !== null && ref.bootId === bootId();
    const holder = readStat(ref.pid);
    const groupIsItsOwn = holder === null ? !pidExists(ref.pid) : exited(holder) && holder.startTime === ref.startTime;
    if (sameBoot && groupIsItsOwn) sigkill(-ref.pid);
    return "gone";
  }
  sigkill(readStat(ref.pid)?.processGroup === ref.pid ? -ref.pid : ref.pid);
  return "killed";
}

/**
 * SIGKILLs this process, with the process group it leads (a detached worker and the children its
 * executor started). It needs no proof of who it is, so it works where start times cannot be read
 * (no /proc): a group whose id is this pid can only be the one this process leads, since a pid is
 * not handed out while a group of that id lives.
 */
export function killSelf(): void {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    // leads no group (started from a shell, not detached): only itself
  }
  process.kill(process.pid, "SIGKILL");
}
