// Builds the TaskApi an executor receives: its view of the task, and the calls that report
// through the coalescing Reporter. Executors never see the journal.
import { format } from "node:util";
import type { TaskRecord } from "../core/task.ts";
import type { TaskApi } from "../executor/definition.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import { storeAttachment } from "./attachments.ts";
import type { Reporter } from "./reporter.ts";
import type { TaskLog } from "./task-log.ts";

export interface TaskApiParts {
  task: TaskRecord;
  executor: LoadedExecutor;
  home: string;
  signal: AbortSignal;
  reporter: Reporter;
  log: TaskLog;
  /** Set once the executor reports progress itself, so step-derived progress stops overriding it. */
  onOwnProgress(): void;
}

function isSerialisable(value: unknown): string | null {
  try {
    JSON.stringify(value);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

export function createTaskApi(parts: TaskApiParts): TaskApi {
  const { task, executor, home, signal, reporter, log } = parts;
  const attachments = [...task.attachments];
  const api: TaskApi = {
    id: task.id,
    tries: task.tries,
    context: structuredClone(task.context),
    signal,
    state: structuredClone(task.state),
    async progress(percent, message) {
      if (typeof percent !== "number" || Number.isNaN(percent)) {
        log.write("bgtask", `task.progress() ignored: ${format(percent)} is not a number`);
        return;
      }
      parts.onOwnProgress();
      const clamped = Math.min(100, Math.max(0, percent));
      reporter.schedule(message === undefined ? { progress: clamped } : { progress: clamped, message: String(message) });
    },
    async set(attributes) {
      const problem =
        typeof attributes !== "object" || attributes === null || Array.isArray(attributes)
          ? "attributes must be an object"
          : isSerialisable(attributes);
      if (problem) {
        log.write("bgtask", `task.set() ignored: the attributes are not JSON-serialisable (${problem})`);
        return;
      }
      reporter.schedule({ attributes: JSON.parse(JSON.stringify(attributes)) as Record<string, unknown> });
    },
    log(...values) {
      log.write("log", `${format(...values)}\n`);
    },
    async attach(name, data) {
      const attachment = storeAttachment(home, task.id, name, data);
      const index = attachments.findIndex((a) => a.name === attachment.name);
      if (index === -1) attachments.push(attachment);
      else attachments[index] = attachment;
      reporter.schedule({ attachments: [...attachments] });
      await reporter.flush();
    },
    async send(message) {
      const translate = executor.definition.translate;
      if (typeof translate !== "function") {
        log.write("bgtask", "task.send() ignored: the definition has no translate()");
        return;
      }
      const status: Record<string, unknown> = {};
      translate(message, status);
      await api.set(status);
    },
  };
  return api;
}
