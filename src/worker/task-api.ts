// Builds the TaskApi an executor receives: its view of the task, and the calls that report
// through the coalescing Reporter. Executors never see the journal.
import { format, inspect } from "node:util";
import type { Attachment, TaskRecord } from "../core/task.ts";
import type { TaskApi } from "../executor/definition.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import type { TaskOutput } from "../journal/task-output.ts";
import { storeAttachment } from "./attachments.ts";
import type { Reporter } from "./reporter.ts";
import type { TaskLog } from "./task-log.ts";

export interface TaskApiParts {
  task: TaskRecord;
  executor: LoadedExecutor;
  output: TaskOutput;
  signal: AbortSignal;
  reporter: Reporter;
  log: TaskLog;
  /** The percent to record for one the executor reported (a task made of steps never moves back). */
  shownProgress(percent: number): number;
}

/** Where `value` stops being plain JSON (a function, a BigInt, NaN, a Map, a cycle…), or null. */
export function jsonProblem(value: unknown, path = "attributes", seen: object[] = []): string | null {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return null;
    case "number":
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot hold`;
    case "object":
      break;
    default:
      return `${path} is a ${typeof value}`;
  }
  if (value === null) return null;
  if (seen.includes(value)) return `${path} refers back to itself`;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return null;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
    return `${path} is a ${proto?.constructor?.name ?? "class instance"}, which JSON cannot hold`;
  }
  for (const [key, item] of Object.entries(value)) {
    const problem = jsonProblem(item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, [...seen, value]);
    if (problem) return problem;
  }
  return null;
}

export function createTaskApi(parts: TaskApiParts): TaskApi {
  const { task, executor, output, signal, reporter, log } = parts;
  const attachments = [...task.attachments];
  const api: TaskApi = {
    id: task.id,
    tries: task.tries,
    context: structuredClone(task.context),
    signal,
    state: structuredClone(task.state),
    async progress(percent, message) {
      if (typeof percent !== "number" || Number.isNaN(percent)) {
        log.write("bgtask", `task.progress() ignored: ${inspect(percent)} is not a number\n`);
        return;
      }
      const shown = parts.shownProgress(Math.min(100, Math.max(0, percent)));
      reporter.schedule(message === undefined ? { progress: shown } : { progress: shown, message: String(message) });
    },
    async set(attributes) {
      const problem =
        typeof attributes !== "object" || attributes === null || Array.isArray(attributes)
          ? `attributes must be an object, not ${inspect(attributes)}`
          : jsonProblem(attributes);
      // Logged rather than thrown: an un-awaited set() must not become an unhandled rejection.
      if (problem) {
        log.write("bgtask", `task.set() ignored: the attributes are not JSON-serialisable (${problem})\n`);
        return;
      }
      reporter.schedule({ attributes: JSON.parse(JSON.stringify(attributes)) as Record<string, unknown> });
    },
    log(...values) {
      log.write("log", `${format(...values)}\n`);
    },
    async attach(name, data) {
      let attachment: Attachment;
      try {
        attachment = await storeAttachment(output, task.id, name, data);
      } catch (error) {
        log.write("bgtask", `task.attach() failed: ${(error as Error).message}\n`);
        throw error;
      }
      const index = attachments.findIndex((a) => a.name === attachment.name);
      if (index === -1) attachments.push(attachment);
      else attachments[index] = attachment;
      reporter.schedule({ attachments: [...attachments] });
      await reporter.flush();
    },
    async send(message) {
      const translate = executor.definition.translate;
      if (typeof translate !== "function") {
        log.write("bgtask", "task.send() ignored: the definition has no translate()\n");
        return;
      }
      const status: Record<string, unknown> = {};
      translate(message, status);
      await api.set(status);
    },
  };
  return api;
}
