// A task's log on PostgreSQL while the database is down: the worker's TaskLog drops the lines it
// cannot write and never throws, so the executor and the worker go on; once the database is back,
// the next batch says how many lines were lost. A cluster of the test's own, stopped and started.
import { describe, expect, it, onTestFinished } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { openStore } from "../../src/journal/open.ts";
import { TaskLog } from "../../src/worker/task-log.ts";
import { startCluster } from "../helpers/postgres.ts";

describe.skipIf(!process.env.BGTASK_TEST_PG)("a task log on PostgreSQL while the database is down", () => {
  it("drops the lines it cannot write, never throws, and says how many once the database is back", async () => {
    const cluster = await startCluster();
    onTestFinished(() => cluster.stop());
    const store = await openStore(`${cluster.url}?schema=down`, { staleMs: 2_000, waitMs: 300 });
    onTestFinished(() => store.close());
    const input = { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null };
    const [task] = (await store.enqueue([input], new Date(), null)).tasks;
    const output = store.taskOutput("/nowhere");
    const log = new TaskLog(output, task!.id, 1);
    log.write("stdout", "before\n");
    await log.endLines();

    await cluster.down();
    log.write("stdout", "lost 1\nlost 2\n");
    await log.endLines();
    await cluster.up();
    log.write("stdout", "after\n");
    await log.close();

    let text = "";
    await output.logReader(task!.id).readNew((piece) => {
      text += piece;
    });
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => line.replace(/^\S+ \[try 1\] /, ""));
    expect(lines).toEqual([
      "stdout | before",
      expect.stringMatching(/^bgtask \| 2 log line\(s\) before this one could not be written \(cannot reach the PostgreSQL journal at .*\)$/),
      "stdout | after",
    ]);
  });
});
