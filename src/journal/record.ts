// The task record as every store reads it back: checked on every read, whatever holds it (a file
// journal's snapshot and log, a PostgreSQL row). A record that fails is reported, never "repaired".
import * as v from "valibot";
import { HOST_NAME_PATTERN, TASK_STATUSES } from "../core/task.ts";

// Every read checks each task it meets (the snapshot's and each logged one), so the check runs
// first as the plain tests below, ≈50× faster than valibot's; the valibot schemas, which say the
// same, only explain a failure in words. test/unit/journal-schema.test.ts keeps the two in step.
export type Fields = Record<string, unknown>;
export const isObject = (x: unknown): x is Fields => typeof x === "object" && x !== null;
const isStringOrNull = (x: unknown) => x === null || typeof x === "string";
// valibot's number() refuses NaN, which JSON cannot hold anyway.
export const isNumber = (x: unknown) => typeof x === "number" && !Number.isNaN(x);
export const isNumberOrNull = (x: unknown) => x === null || isNumber(x);
const STATUSES: readonly unknown[] = TASK_STATUSES;
export const TASK_ID = /^[1-9][0-9]*$/;
export function isWorkerRef(x: unknown): boolean {
  return isObject(x) && isNumber(x.pid) && typeof x.host === "string" && isNumberOrNull(x.startTime) && isStringOrNull(x.bootId);
}

const isIdList = (x: unknown) => Array.isArray(x) && x.every((id) => typeof id === "string" && TASK_ID.test(id));

export function isTask(x: unknown): boolean {
  return (
    isObject(x) &&
    typeof x.id === "string" &&
    TASK_ID.test(x.id) &&
    typeof x.executor === "string" &&
    STATUSES.includes(x.status) &&
    typeof x.completed === "boolean" &&
    isObject(x.context) &&
    isNumber(x.progress) &&
    isObject(x.attributes) &&
    isNumber(x.tries) &&
    isNumber(x.maxTries) &&
    isNumber(x.remainingTries) &&
    isStringOrNull(x.nextRunAt) &&
    typeof x.createdAt === "string" &&
    isStringOrNull(x.serialKey) &&
    isObject(x.retry) &&
    (x.retry.kind === "tiers" || x.retry.kind === "exponential") &&
    isObject(x.state) &&
    Array.isArray(x.history) &&
    isStringOrNull(x.lease) &&
    (x.worker === null || isWorkerRef(x.worker)) &&
    (x.schedule === undefined || x.schedule === null || isScheduleRef(x.schedule)) &&
    (x.priority === undefined || isNumber(x.priority)) &&
    (x.key === undefined || isStringOrNull(x.key)) &&
    (x.after === undefined || isIdList(x.after)) &&
    (x.waitingFor === undefined || isIdList(x.waitingFor)) &&
    (x.concurrency === undefined || isNumberOrNull(x.concurrency)) &&
    (x.pinnedHost === undefined || x.pinnedHost === null || (typeof x.pinnedHost === "string" && HOST_NAME_PATTERN.test(x.pinnedHost))) &&
    (x.trace === undefined || (isObject(x.trace) && !Array.isArray(x.trace) && Object.values(x.trace).every((value) => typeof value === "string")))
  );
}

function isScheduleRef(x: unknown): boolean {
  return isObject(x) && typeof x.name === "string" && typeof x.slot === "string";
}

const isoOrNull = v.nullable(v.string());
export const workerRef = v.object({
  pid: v.number(),
  host: v.string(),
  startTime: v.nullable(v.number()),
  bootId: v.nullable(v.string()),
});

// Tasks are checked on the fields bgtask acts on; the rest is carried as written.
export const taskSchema = v.looseObject({
  id: v.pipe(v.string(), v.regex(TASK_ID)),
  executor: v.string(),
  status: v.picklist(TASK_STATUSES),
  completed: v.boolean(),
  context: v.record(v.string(), v.unknown()),
  progress: v.number(),
  attributes: v.record(v.string(), v.unknown()),
  tries: v.number(),
  maxTries: v.number(),
  remainingTries: v.number(),
  nextRunAt: isoOrNull,
  createdAt: v.string(),
  serialKey: v.nullable(v.string()),
  retry: v.looseObject({ kind: v.picklist(["tiers", "exponential"]) }),
  state: v.record(v.string(), v.unknown()),
  history: v.array(v.unknown()),
  lease: v.nullable(v.string()),
  worker: v.nullable(workerRef),
  schedule: v.optional(v.nullable(v.object({ name: v.string(), slot: v.string() }))),
  // Issue 13's fields: absent in older journals, which read with their defaults.
  priority: v.optional(v.number()),
  key: v.optional(v.nullable(v.string())),
  after: v.optional(v.array(v.pipe(v.string(), v.regex(TASK_ID)))),
  waitingFor: v.optional(v.array(v.pipe(v.string(), v.regex(TASK_ID)))),
  concurrency: v.optional(v.nullable(v.number())),
  pinnedHost: v.optional(v.nullable(v.pipe(v.string(), v.regex(HOST_NAME_PATTERN)))),
  // Issue 24's: the enqueuer's trace context.
  trace: v.optional(
    v.pipe(
      v.custom((x) => !Array.isArray(x), "a trace context is an object of strings"),
      v.record(v.string(), v.string()),
    ),
  ),
});

export function checkTask(value: unknown): string | null {
  if (isTask(value)) return null;
  const result = v.safeParse(taskSchema, value);
  return result.success ? null : result.issues[0].message;
}
