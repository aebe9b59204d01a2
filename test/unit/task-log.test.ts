// TaskLog hands lines to its journal's task output: one at a time and at once where that is a
// file, in batches where each write is a round trip, every line before endLines() resolves (the
// try is settled after it), and lines a failed write lost counted in the next one that lands.
import { describe, expect, it } from "vitest";
import type { TaskOutput } from "../../src/journal/task-output.ts";
import { TaskLog } from "../../src/worker/task-log.ts";

/** An output that records each append, and fails those `failing` says. */
function recording(batch: TaskOutput["logBatch"], failing: (n: number) => boolean = () => false) {
  const appends: string[] = [];
  let n = 0;
  const output = {
    logBatch: batch,
    logWriter: () => ({
      append: (text: string) => {
        n += 1;
        const fails = failing(n);
        if (batch === null) {
          if (fails) throw new Error("disk full");
          appends.push(text);
          return;
        }
        return Promise.resolve().then(() => {
          if (fails) throw new Error("database down");
          appends.push(text);
        });
      },
      close: () => undefined,
    }),
  } as unknown as TaskOutput;
  return { output, appends };
}

const texts = (appends: string[]) =>
  appends
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.replace(/^\S+ \[try 1\] /, ""));

describe("TaskLog", () => {
  it("writes each line at once to an output without batches (a file)", () => {
    const { output, appends } = recording(null);
    const log = new TaskLog(output, "1", 1);
    log.write("stdout", "a\nb\n");
    expect(texts(appends)).toEqual(["stdout | a", "stdout | b"]);
    expect(appends).toHaveLength(2);
  });

  it("batches lines for a batched output, and has handed over all of them, the unfinished one too, when endLines resolves", async () => {
    const { output, appends } = recording({ ms: 60_000, bytes: 1024 * 1024 });
    const log = new TaskLog(output, "1", 1);
    for (let i = 0; i < 500; i++) log.write("log", `line ${i}\n`);
    log.write("stdout", "no newline");
    expect(appends).toEqual([]);
    await log.endLines();
    expect(appends).toHaveLength(1);
    expect(texts(appends)).toHaveLength(501);
    expect(texts(appends).at(-1)).toBe("stdout | no newline");
  });

  it("flushes a batch once enough bytes wait, without waiting for its time", async () => {
    const { output, appends } = recording({ ms: 60_000, bytes: 1024 });
    const log = new TaskLog(output, "1", 1);
    for (let i = 0; i < 40; i++) log.write("log", `${"x".repeat(60)}\n`);
    await Promise.resolve();
    expect(appends.length).toBeGreaterThanOrEqual(1);
    await log.close();
    expect(texts(appends)).toHaveLength(40);
  });

  it("drops the lines of a write that fails, never throws, and says how many in the next write that lands", async () => {
    for (const batch of [null, { ms: 60_000, bytes: 1024 * 1024 }] as const) {
      const { output, appends } = recording(batch, (n) => n <= (batch === null ? 2 : 1));
      const log = new TaskLog(output, "1", 1);
      log.write("log", "lost 1\nlost 2\n");
      await log.endLines();
      log.write("log", "kept\n");
      await log.close();
      const reason = batch === null ? "disk full" : "database down";
      expect(texts(appends)).toEqual([`bgtask | 2 log line(s) before this one could not be written (${reason})`, "log    | kept"]);
    }
  });
});
