// executeTry saves task.state at the end of a try only when the executor changed it: a task that
// leaves its state alone costs no report write between claim and settle.
import { describe, expect, it } from "vitest";
import { createTask, type TaskRecord } from "../../src/core/task.ts";
import { defineTask, type TaskApi } from "../../src/executor/definition.ts";
import type { BrandedDefinition } from "../../src/executor/definition.ts";
import type { LoadedExecutor } from "../../src/executor/load.ts";
import { FileTaskOutput } from "../../src/journal/file/output.ts";
import type { TaskReport } from "../../src/journal/store.ts";
import { executeTry } from "../../src/worker/execute.ts";
import type { Reporter } from "../../src/worker/reporter.ts";
import type { TaskLog } from "../../src/worker/task-log.ts";

function tryWith(run: (task: TaskApi) => Promise<void>, state: Record<string, unknown> = {}) {
  const task: TaskRecord = {
    ...createTask("1", { executor: "x", context: {}, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null }, new Date(), 1),
    status: "running",
    tries: 1,
    state,
  };
  const executor: LoadedExecutor = {
    name: "x",
    file: "/nowhere/x.js",
    definition: defineTask({ run }) as BrandedDefinition,
    retry: null,
    timeoutMs: null,
    priority: null,
    concurrency: null,
    sliceMs: 30_000,
    serialKeyOf: () => null,
  };
  const scheduled: TaskReport[] = [];
  const reporter = { schedule: (report: TaskReport) => scheduled.push(report), flush: async () => {} } as unknown as Reporter;
  const log = { write: () => {} } as unknown as TaskLog;
  const ended = executeTry({
    task,
    executor,
    output: new FileTaskOutput("/nowhere"),
    root: "/nowhere",
    tasksDir: "/nowhere/tasks",
    signal: new AbortController().signal,
    reporter,
    log,
    deadline: Date.now() + 30_000,
  });
  return { ended, scheduled };
}

describe("executeTry and task.state", () => {
  it("schedules no report when the executor left the state as it was", async () => {
    const { ended, scheduled } = tryWith(async () => {}, { offset: 3 });
    expect((await ended).kind).toBe("succeeded");
    expect(scheduled).toEqual([]);
  });

  it("saves a state the executor changed, also when the try fails", async () => {
    const { ended, scheduled } = tryWith(
      async (task) => {
        task.state.offset = 4;
        throw new Error("boom");
      },
      { offset: 3 },
    );
    expect((await ended).kind).toBe("failed");
    expect(scheduled).toEqual([{ state: { offset: 4 } }]);
  });
});
