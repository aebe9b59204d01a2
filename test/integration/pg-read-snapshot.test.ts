// A read of the PostgreSQL journal sees one moment, whatever commits meanwhile: `list` reads the
// active tasks and the finished ones with two statements, and a task that ended between them was
// listed twice (running, then succeeded); one queued again between them was missing. Each read is
// now one snapshot. Here a second store settles and retries tasks as fast as it can while the
// first lists them all, again and again.
import { randomBytes } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { openStore } from "../../src/journal/open.ts";
import { claimNext } from "../../src/journal/store.ts";

const COUNT = 400;
const worker = { pid: process.pid, host: "here", startTime: null, bootId: null };
const succeed = { kind: "succeeded", message: null, result: null } as const;

describe.skipIf(!process.env.BGTASK_TEST_PG)("reads of the PostgreSQL journal while it changes", () => {
  it("list shows every task once, however many end or are queued again between its statements", { timeout: 60_000 }, async () => {
    const url = process.env.BGTASK_TEST_PG!;
    const journal = `${url}${url.includes("?") ? "&" : "?"}schema=t_${randomBytes(6).toString("hex")}`;
    const [reader, writer] = [await openStore(journal, { staleMs: 5_000, waitMs: 5_000 }), await openStore(journal, { staleMs: 5_000, waitMs: 5_000 })];
    onTestFinished(() => Promise.all([reader.close(), writer.close()]).then(() => undefined));
    const input = { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null };
    await writer.enqueue(
      Array.from({ length: COUNT }, () => input),
      new Date(),
      null,
    );
    let writing = true;
    let changes = 0;
    const churn = (async () => {
      // Ends tasks one by one, and queues each ended one again: tasks cross between the two halves of a list all the time.
      while (writing) {
        const task = await claimNext(writer, worker, new Date());
        if (!task) continue;
        await writer.settle(task.id, task.lease!, succeed, new Date());
        await writer.retry(task.id, new Date());
        changes += 2;
      }
    })();
    try {
      // At least 150 reads, through at least 300 changes.
      for (let read = 0; read < 150 || changes < 300; read++) {
        const ids = (await reader.list({})).map((t) => t.id);
        expect(new Set(ids).size, `read ${read}: a task listed twice`).toBe(ids.length);
        expect(ids.length, `read ${read}: a task missing`).toBe(COUNT);
      }
    } finally {
      writing = false;
      await churn;
    }
  });
});
