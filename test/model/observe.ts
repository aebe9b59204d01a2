// Everything a user can see of a journal, read the same way from each store, and the comparison of
// two such readings. What legitimately differs between stores is normalised here, each with why.
import { expect } from "vitest";
import { matchesPage, type PageMatch } from "../../src/core/list-order.ts";
import { MINUTE_MS } from "../../src/core/stats.ts";
import { isFinal, TASK_STATUSES, type TaskRecord } from "../../src/core/task.ts";
import { compareIds } from "../../src/core/transitions.ts";
import type { ListFilter, PageFilter } from "../../src/journal/store.ts";
import type { Subject } from "./subjects.ts";

export const EXECUTORS = ["a", "b", "c"] as const;
export const HOSTS = ["here", "there"] as const;
export const TICK_MUTEX = "cluster";
/** Minutes of throughput stats asks for. */
const STATS_MINUTES = 10;

/** A slot name as the run knows it: its label, or the name itself when the run chose it. */
function slotLabel(subject: Subject, slot: string | null): string | null {
  if (slot === null) return null;
  for (const [label, name] of subject.slots) if (name === slot) return label;
  return slot;
}

/**
 * A store's answer as the run compares it: JSON with its object keys sorted and undefined fields
 * dropped (the file journal's records went through JSON, the memory store's did not, and key
 * order is nobody's contract). With a subject, leases and slot names are made comparable: leases
 * are random tokens each store makes (which one holds a task is checked through tryControl with
 * the store's own), and so are slot names (shown by the label the run gave the slot).
 */
export function textOf(subject: Subject | null, value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => textOf(subject, item)).join(",")}]`;
  const fields: string[] = [];
  for (const key of Object.keys(value).sort()) {
    let field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    if (subject !== null && typeof field === "string") {
      if (key === "lease") field = "(lease)";
      else if (key === "slot" && "reservedAt" in value) field = slotLabel(subject, field);
    }
    fields.push(`${JSON.stringify(key)}:${textOf(subject, field)}`);
  }
  return `{${fields.join(",")}}`;
}

/**
 * A record with its lease shown as textOf shows it, as a copy: read views keep them so, and the
 * JSON of two answers can then be compared as it is (see sameAs).
 */
function leaseless(task: TaskRecord): TaskRecord {
  return task.lease === null ? task : { ...task, lease: "(lease)" };
}

/** `value` as textOf makes it, as a value again: for a diff, or to keep. */
export function normalised(subject: Subject | null, value: unknown): unknown {
  return JSON.parse(textOf(subject, value));
}

/** Lists whose finished tasks a limit cuts: which of several that finished in the same millisecond are kept is nobody's contract. */
interface Limited {
  kind: "list" | "page";
  filter: PageMatch & { ids?: readonly string[] };
  tasks: TaskRecord[];
}

export interface Observation {
  /** Compared as they are. */
  exact: Record<string, unknown>;
  /** Compared with ties in finishing time allowed to fall either way (see compareLimited). */
  limited: Record<string, Limited>;
  /** Every task, for compareLimited. */
  all: TaskRecord[];
}

const PAGES: Array<Omit<PageFilter, "order">> = [
  { offset: 0, limit: 1_000_000 },
  { offset: 1, limit: 2 },
  { offset: 0, limit: 5, statuses: ["queued", "succeeded", "cancelled"] },
  { offset: 0, limit: 4, executor: "a" },
  { offset: 0, limit: 1_000_000, search: "cancel" },
];

/** The filtered lists and pages, each read every ROTATION commands (see observe). */
type View = { label: string } & ({ list: ListFilter } | { page: PageFilter });
const VIEWS: View[] = [
  ...TASK_STATUSES.map((status) => ({ label: `list status=${status}`, list: { statuses: [status] } })),
  { label: "list status=queued,failed", list: { statuses: ["queued", "failed"] } },
  ...EXECUTORS.map((executor) => ({ label: `list executor=${executor}`, list: { executor } })),
  ...[1, 3].flatMap((limit): View[] => [
    { label: `list limit=${limit}`, list: { limit } },
    { label: `list limit=${limit} status=succeeded,cancelled`, list: { limit, statuses: ["succeeded", "cancelled"] } },
  ]),
  ...(["newest", "claim"] as const).flatMap((order) =>
    PAGES.map((page) => ({ label: `page ${JSON.stringify({ ...page, order })}`, page: { ...page, order } })),
  ),
];

/**
 * Each read of the file journal loads it anew (journal.json, and the whole log since the last
 * compaction): reading every view of every task after every command cost 30 ms a command. So the
 * unfiltered list (every task, as it is), the counts, the queues, schedules, slots, surveys and the
 * tick mutex are read after every command, and the filtered lists, pages, the `get` of each task
 * and the tryControl of each lease in turns of ROTATION commands. A difference that only a filtered view shows stays
 * until the view's turn (or the shrunk sequence keeps a command more to get there).
 */
const ROTATION = 3;

const LIST_IDS = 24;

/** Past this many tasks, `get` reads a sample of a deep queue's tasks: there are a thousand. */
const GET_ALL_UP_TO = 60;

/**
 * Reads what a user can see of `subject`'s journal at `now`; `ids` are every id handed out (and
 * one never handed out); `turn` picks the views read this time.
 */
export async function observe(subject: Subject, ids: readonly string[], now: Date, turn: number): Promise<Observation> {
  const { store } = subject;
  const exact: Record<string, unknown> = {};
  const limited: Record<string, Limited> = {};
  const list = async (label: string, filter: ListFilter) => {
    const tasks = await store.list(filter);
    // A list comes in id order whatever it keeps.
    same(
      `${subject.name}: ${label} in id order`,
      tasks.map((t) => t.id),
      [...tasks].sort((a, b) => compareIds(a.id, b.id)).map((t) => t.id),
    );
    if (filter.limit === undefined) exact[label] = tasks.map(leaseless);
    else limited[label] = { kind: "list", filter, tasks: tasks.map(leaseless) };
    return tasks;
  };
  const all = await list("list {}", {});
  // A third of the ids, at most LIST_IDS of them: the file journal looks each up on its own.
  const third = ids.filter((_, i) => i % ROTATION === turn % ROTATION);
  const some = third.filter((_, i) => i % Math.ceil(third.length / LIST_IDS) === 0);
  const views: View[] = [...VIEWS, { label: "list ids", list: { ids: some } }, { label: "list ids limit=2", list: { ids: some, limit: 2 } }];
  for (const [i, view] of views.entries()) {
    if (i % ROTATION !== turn % ROTATION) continue;
    if ("list" in view) await list(view.label, view.list);
    else limited[view.label] = { kind: "page", filter: view.page, tasks: (await store.page(view.page)).map(leaseless) };
  }
  const got: Record<string, unknown> = {};
  const deep = new Set(all.filter((t) => t.status === "queued" && t.context.deep !== undefined).map((t) => t.id));
  const sampled = ids.length <= GET_ALL_UP_TO ? ids : ids.filter((id, i) => !deep.has(id) || i % 101 === 0 || i >= ids.length - GET_ALL_UP_TO / 2);
  for (const [i, id] of sampled.entries())
    if (i % ROTATION === turn % ROTATION || id === ids[ids.length - 1]) got[id] = await store.get(id).then((task) => task && leaseless(task));
  exact.get = got;
  exact.stats = await store.stats(now, STATS_MINUTES);
  exact.activity = await store.activity(now, { bucketMs: MINUTE_MS, buckets: STATS_MINUTES });
  exact.counters = await store.counters();
  // The events since the last observation, in order, without their cursors (each store makes its own).
  const events: unknown[] = [];
  for (;;) {
    const page = await store.events(subject.eventCursor, 500);
    if (page.length === 0) break;
    subject.eventCursor = page.at(-1)!.cursor;
    events.push(...page.map(({ cursor: _, ...event }) => event));
  }
  exact.events = events;
  exact.pausedQueues = await store.pausedQueues();
  exact.scheduleStates = await store.scheduleStates();
  // Which slot is where in the registry is nobody's contract (the memory store moves a slot it registers to the end).
  exact.workerSlots = sortedSlots(normalised(subject, await store.workerSlots()));
  for (const host of HOSTS) {
    const survey = await store.survey(host);
    // In which order the running tries come is nobody's contract either.
    const running = survey.running.sort((a, b) => compareIds(a.id, b.id)).map(leaseless);
    exact[`survey ${host}`] = { running, slots: sortedSlots(normalised(subject, survey.slots)) };
  }
  const controls: Record<string, unknown> = {};
  for (const [id, lease] of subject.leases) if (Number(id) % ROTATION === turn % ROTATION) controls[id] = await store.tryControl(id, lease);
  exact.tryControl = controls;
  exact.tickHolder = await store.tickHolder(TICK_MUTEX);
  return { exact, limited, all };
}

function sortedSlots<T>(slots: T): T {
  return (slots as Array<{ slot: string }>).slice().sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0)) as T;
}

/** Fails with `what` and a diff when `actual` (as `subject` answered it) is not `expected` (as `reference` did). */
export function sameAs(what: string, subject: Subject | null, actual: unknown, reference: Subject | null, expected: unknown): void {
  // Every store builds its records with core's functions, and JSON keeps key order: as they are,
  // they mostly print the same already (textOf, which sorts, costs ten times more on a deep queue).
  if (JSON.stringify(actual) === JSON.stringify(expected)) return;
  const a = textOf(subject, actual);
  const e = textOf(reference, expected);
  if (a === e) return;
  expect(JSON.parse(a), what).toEqual(JSON.parse(e));
  // toEqual takes an undefined field for an absent one; JSON does not, and neither do we.
  throw new Error(`${what}: ${a} is not ${e}`);
}

/** sameAs for values with nothing store-made in them. */
export function same(what: string, actual: unknown, expected: unknown): void {
  sameAs(what, null, actual, null, expected);
}

/** Compares a reading of `subject` with the reference's, naming the first thing that differs. */
export function compareObservations(subject: Subject, reference: Subject, actual: Observation, expected: Observation): void {
  for (const [what, value] of Object.entries(expected.exact))
    sameAs(`${subject.name} vs ${reference.name}: ${what}`, subject, actual.exact[what], reference, value);
  for (const [what, value] of Object.entries(expected.limited)) {
    compareLimited(`${subject.name} vs ${reference.name}: ${what}`, subject, reference, actual.limited[what]!, value, expected.all);
  }
}

/**
 * A list or page that a limit (or an offset) cut. Its active tasks must be the same, in the same
 * order; its finished ones must have finished at the same times, and be the same tasks, except
 * where several that match finished in the same millisecond (one transaction ended them) and the
 * cut falls among them: which of those are kept follows how each store keeps its history (newest
 * line first in the file journal, so the last one the transaction ended; the highest id first in
 * the memory store), and no contract says which. A page shows them newest finished first, after
 * the active ones; a list shows what it kept in id order.
 */
function compareLimited(what: string, subject: Subject, reference: Subject, actual: Limited, expected: Limited, everything: readonly TaskRecord[]): void {
  const active = (tasks: TaskRecord[]) => tasks.filter((t) => !isFinal(t.status));
  const finished = (tasks: TaskRecord[]) => tasks.filter((t) => isFinal(t.status));
  sameAs(`${what}: the active tasks`, subject, active(actual.tasks), reference, active(expected.tasks));
  const times = (tasks: TaskRecord[]) =>
    (actual.kind === "page" ? tasks : [...tasks].sort((a, b) => a.finishedAt!.localeCompare(b.finishedAt!))).map((t) => t.finishedAt);
  same(`${what}: when the finished tasks finished`, times(finished(actual.tasks)), times(finished(expected.tasks)));
  if (actual.kind === "page")
    same(
      `${what}: the active tasks come first`,
      actual.tasks.slice(0, active(actual.tasks).length).every((t) => !isFinal(t.status)),
      true,
    );
  const byId = new Map(everything.map((t) => [t.id, t]));
  const groups = new Map<string, { actual: string[]; expected: string[] }>();
  for (const task of finished(actual.tasks)) {
    const known = byId.get(task.id);
    sameAs(`${what}: finished task ${task.id}, as the reference has it`, subject, task, reference, known);
    const group = groups.get(task.finishedAt!) ?? { actual: [], expected: [] };
    group.actual.push(task.id);
    groups.set(task.finishedAt!, group);
  }
  for (const task of finished(expected.tasks)) groups.get(task.finishedAt!)?.expected.push(task.id);
  for (const [finishedAt, group] of groups) {
    const tied = everything.filter((t) => isFinal(t.status) && t.finishedAt === finishedAt && matches(t, actual.filter));
    if (tied.length === group.expected.length) same(`${what}: the tasks that finished at ${finishedAt}`, group.actual.sort(), group.expected.sort());
  }
}

function matches(task: TaskRecord, filter: Limited["filter"]): boolean {
  return matchesPage(task, filter) && (filter.ids === undefined || filter.ids.includes(task.id));
}
