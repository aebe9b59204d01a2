// The journal's checks: the quick tests in schema.ts must refuse everything the valibot schema
// refuses (it only words the failure), and accept every journal bgtask writes.
import { describe, expect, it } from "vitest";
import { createTask } from "../../src/core/task.ts";
import { checkDoc, checkTask, emptyDoc } from "../../src/journal/file/schema.ts";

const worker = { pid: 42, host: "box", startTime: 1234, bootId: "b" };

function task(): Record<string, unknown> {
  const record = createTask(
    "7",
    { executor: "mail/send", context: { to: "a" }, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null },
    new Date(0),
    3,
  );
  return structuredClone(record) as unknown as Record<string, unknown>;
}

const running = () => ({ ...task(), status: "running", lease: "l-1", worker, extra: { carried: true } });

describe("tasks", () => {
  it("accepts what bgtask writes, and fields it does not check", () => {
    expect(checkTask(task())).toBeNull();
    expect(checkTask(running())).toBeNull();
    expect(checkTask({ ...task(), worker: { ...worker, startTime: null, bootId: null } })).toBeNull();
    // valibot's record() takes any object, arrays included: so must the quick check's fallback.
    expect(checkTask({ ...task(), context: [] })).toBeNull();
  });

  it("accepts a task written before the queue controls, without their fields", () => {
    const { priority: _p, key: _k, after: _a, waitingFor: _w, concurrency: _c, ...old } = task();
    expect(checkTask(old)).toBeNull();
    expect(checkTask({ ...task(), key: "nightly", after: ["3"], waitingFor: ["3"], concurrency: null, priority: 2 })).toBeNull();
    expect(checkTask({ ...task(), pinnedHost: "build-01.example.com" })).toBeNull();
    expect(checkTask({ ...task(), pinnedHost: null })).toBeNull();
    expect(checkTask({ ...task(), trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "" } })).toBeNull();
  });

  const wrong: Array<[string, unknown]> = [
    ["id", 7],
    ["id", "07"],
    ["id", "7a"],
    ["executor", null],
    ["status", "done"],
    ["completed", "no"],
    ["context", null],
    ["context", "x"],
    ["progress", "0"],
    ["progress", Number.NaN],
    ["attributes", 1],
    ["tries", null],
    ["maxTries", "3"],
    ["remainingTries", undefined],
    ["nextRunAt", 5],
    ["createdAt", null],
    ["serialKey", 1],
    ["retry", null],
    ["retry", { kind: "linear" }],
    ["state", false],
    ["history", {}],
    ["lease", 1],
    ["worker", "w"],
    ["worker", { ...worker, pid: "42" }],
    ["worker", { ...worker, host: null }],
    ["worker", { ...worker, startTime: "1" }],
    ["worker", { ...worker, bootId: 1 }],
    ["priority", "1"],
    ["key", 1],
    ["after", ["x"]],
    ["after", "1"],
    ["waitingFor", [1]],
    ["concurrency", "2"],
    ["pinnedHost", 1],
    ["pinnedHost", ""],
    ["pinnedHost", "a b"],
    ["pinnedHost", "../x"],
    ["trace", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
    ["trace", { traceparent: 1 }],
    ["trace", ["x"]],
    ["trace", null],
  ];
  it.each(wrong)("refuses %s = %j", (field, value) => {
    expect(checkTask({ ...running(), [field]: value })).not.toBeNull();
  });

  it.each(["id", "executor", "status", "history", "worker"])("refuses a task without %s", (field) => {
    const record = running();
    delete (record as Record<string, unknown>)[field];
    expect(checkTask(record)).not.toBeNull();
  });

  it.each([null, "task", 7, []])("refuses %j", (value) => {
    expect(checkTask(value)).not.toBeNull();
  });
});

describe("the journal document", () => {
  const doc = () => ({
    ...emptyDoc(),
    tasks: [running()],
    workers: [
      { slot: "s", reservedAt: "t", process: worker },
      { slot: "u", reservedAt: "t", process: null },
    ],
  });

  it("accepts what bgtask writes", () => {
    expect(checkDoc(emptyDoc())).toBeNull();
    expect(checkDoc(doc())).toBeNull();
    expect(checkDoc({ ...doc(), pausedQueues: ["import-users"] })).toBeNull();
  });

  const wrong: Array<[string, unknown]> = [
    ["pausedQueues", "import-users"],
    ["pausedQueues", [1]],
    ["format", "other"],
    ["version", "1"],
    ["rev", null],
    ["log", "journal.log"],
    ["log", "../journal.1.log"],
    ["nextId", "1"],
    ["history", null],
    ["history", { file: "history.jsonl" }],
    ["history", { file: "../history.jsonl", bytes: 0 }],
    ["history", { file: "history.jsonl", bytes: "0" }],
    ["tasks", {}],
    ["tasks", [{ ...task(), status: "done" }]],
    ["workers", null],
    ["workers", [{ slot: "s", reservedAt: "t" }]],
    ["workers", [{ slot: 1, reservedAt: "t", process: null }]],
    ["workers", [{ slot: "s", reservedAt: "t", process: { ...worker, pid: null } }]],
  ];
  it.each(wrong)("refuses %s = %j, naming where", (field, value) => {
    expect(checkDoc({ ...doc(), [field]: value })).toMatch(/^unexpected content/);
  });

  it("refuses a journal of a newer format, saying so", () => {
    expect(checkDoc({ ...doc(), version: 99 })).toMatch(/newer bgtask/);
  });
});
