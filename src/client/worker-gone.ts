// Whether a running task's recorded worker is known to be gone: on this host its process has
// exited (pid, start time and boot id no longer match). Readers say so at once instead of showing
// the task as running until something recovers it; on another host only the heartbeat can tell.
import type { TaskRecord } from "../core/task.ts";
import { liveness } from "../host/process-identity.ts";

export function workerGone(task: TaskRecord): boolean {
  return task.status === "running" && task.worker !== null && liveness(task.worker) === "dead";
}
