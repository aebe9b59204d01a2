// What the dashboard accepts from the browser, checked at the edge: the task table's query and the
// bodies of its actions. Anything else is a 400 with the reason, before the client layer is called.
import * as v from "valibot";
import { TASK_STATUSES } from "../core/task.ts";
import { UsageError } from "../errors.ts";

export const PAGE_SIZE = 50;

const statuses = v.pipe(
  v.string(),
  v.transform((text) => text.split(",").filter(Boolean)),
  v.array(v.picklist(TASK_STATUSES, `a status is one of ${TASK_STATUSES.join(", ")}`)),
);

const pageQuery = v.object({
  status: v.optional(statuses),
  executor: v.optional(v.pipe(v.string(), v.maxLength(500))),
  q: v.optional(v.pipe(v.string(), v.maxLength(500))),
  order: v.optional(v.picklist(["newest", "claim"], 'order is "newest" or "claim"'), "newest"),
  page: v.optional(v.pipe(v.string(), v.regex(/^(0|[1-9][0-9]{0,6})$/, "page is a whole number from 0"), v.transform(Number)), "0"),
});

const runBody = v.object({
  executor: v.pipe(v.string("executor is the executor's name"), v.minLength(1, "pick an executor"), v.maxLength(500)),
  context: v.pipe(v.string("context is JSON text"), v.maxLength(2 * 1024 * 1024)),
});

export const BULK_ACTIONS = ["retry-failed", "cancel-queued", "remove-finished"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

const bulkRequest = v.object({
  action: v.picklist(BULK_ACTIONS, `a bulk action is one of ${BULK_ACTIONS.join(", ")}`),
  body: v.object({ executor: v.optional(v.pipe(v.string("executor is the executor's name"), v.minLength(1), v.maxLength(500))) }),
});

function parse<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.map((p) => String(p.key)).join(".");
  throw new UsageError(`${what}${key ? ` (${key})` : ""}: ${issue.message}`, { code: "EREQUEST" });
}

export function parsePageQuery(params: URLSearchParams) {
  const query = parse(pageQuery, Object.fromEntries(params), "bad task query");
  return {
    statuses: query.status?.length ? query.status : undefined,
    executor: query.executor || undefined,
    search: query.q?.trim() || undefined,
    order: query.order,
    page: query.page,
  };
}

export function parseRunBody(body: unknown) {
  return parse(runBody, body, "bad run request");
}

/** `POST /api/bulk/<action>` with `{"executor"?: name}`. */
export function parseBulk(action: string, body: unknown): { action: BulkAction; executor: string | undefined } {
  const request = parse(bulkRequest, { action, body }, "bad bulk request");
  return { action: request.action, executor: request.body.executor };
}

const activityQuery = v.object({ window: v.optional(v.picklist(["hour", "day"], 'window is "hour" or "day"'), "hour") });

/** `GET /api/activity?window=hour|day`. */
export function parseActivityQuery(params: URLSearchParams): "hour" | "day" {
  return parse(activityQuery, Object.fromEntries(params), "bad activity query").window;
}
