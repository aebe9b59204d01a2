// `status` of a finished task reads it through the history index (history.idx beside the history
// file): the answer is the newest line of the task whatever happened since (a retry, a removal, a
// compaction) and whatever state the index file is in (deleted, cut short, garbled).
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { startWorker } from "../helpers/journal.ts";
import { useProject, type Project } from "../helpers/project.ts";

// Fails when its context says so; its message names the try, so a newer line is told from an older one.
const ECHO = `
  import { defineTask } from "bgtask";
  export default defineTask({
    retry: 0,
    run(task) {
      if (task.context.fail) throw new Error("failed on try " + task.tries);
      return { message: "item " + task.context.i + " try " + task.tries };
    },
  });`;

/** Enqueues `count` echo tasks in one bulk call and drains them with a worker; returns their ids. */
async function bulk(project: Project, from: number, count: number, fail = (_i: number) => false): Promise<string[]> {
  const file = join(project.dir, `bulk-${from}.jsonl`);
  writeFileSync(file, Array.from({ length: count }, (_, n) => JSON.stringify({ i: from + n, fail: fail(from + n) })).join("\n"));
  const result = await project.cli(["run", "echo", "--each", file, "--no-worker"]);
  expect(result.code, result.stderr).toBe(0);
  expect((await startWorker(project)).exitCode).toBe(0);
  return result.stdout.trim().split("\n");
}

function indexFile(project: Project, historyFile: string): string {
  return join(project.home, historyFile.replace(/\.jsonl$/, ".idx"));
}

/** `status --json` of each id must equal what `list --all` (a full read of the history) says. */
async function expectStatusMatchesList(project: Project, ids: string[]) {
  const listed = new Map((await project.list()).map((t) => [t.id, t]));
  const shown = await Promise.all(ids.map((id) => project.cli(["status", id, "--json"])));
  ids.forEach((id, i) => {
    const expected = listed.get(id);
    if (expected) expect(JSON.parse(shown[i]!.stdout), `status ${id}`).toEqual(expected);
    else expect(shown[i]!.code, `status ${id}`).toBe(2);
  });
}

describe("history index", () => {
  it("status of old tasks after many, after retry and remove, with the index deleted, cut short or garbled", async () => {
    const project = useProject(onTestFinished, { tasks: { "echo.js": ECHO } });
    const first = await bulk(project, 1, 200, (i) => i % 50 === 1);
    const second = await bulk(project, 201, 100);
    const doc = await project.journalState();
    const index = indexFile(project, doc.history.file);
    expect(existsSync(index)).toBe(true);
    // The index covers the whole committed history.
    expect(Number(readFileSync(index).readBigUInt64LE(8))).toBe(doc.history.bytes);
    const sample = [first[0]!, first[1]!, first[50]!, second[99]!];
    expect(await project.status(first[1]!)).toMatchObject({ status: "succeeded", message: "item 2 try 1" });
    await expectStatusMatchesList(project, sample);

    // A retried final task: its new try is what status shows, not the older line.
    const failed = first[0]!;
    expect(await project.status(failed)).toMatchObject({ status: "failed", tries: 1 });
    expect((await project.cli(["retry", failed])).code).toBe(0);
    await project.waitForTask(failed, (t) => t.completed && t.tries === 2);
    expect(await project.status(failed)).toMatchObject({ status: "failed", error: { message: "failed on try 2" } });

    // Removed: not found, although older lines for it remain in the history.
    const removed = [first[1]!, first[50]!];
    expect((await project.cli(["remove", ...removed])).code).toBe(0);
    for (const id of removed) expect((await project.cli(["status", id])).code).toBe(2);
    const everyone = [...sample, failed, "999999"];
    await expectStatusMatchesList(project, everyone);

    // Whatever state the index is in, the answers stay the same.
    const intact = readFileSync(index);
    rmSync(index);
    await expectStatusMatchesList(project, everyone);
    writeFileSync(index, intact);
    truncateSync(index, 24 + 8 * 30 + 5);
    await expectStatusMatchesList(project, everyone);
    const garbled = Buffer.from(intact);
    for (let i = 0; i < garbled.length; i += 5) garbled[i] = (garbled[i]! * 13 + 101) & 0xff;
    writeFileSync(index, garbled);
    await expectStatusMatchesList(project, everyone);

    // The next task to finish makes the writer rebuild it whole.
    const [next] = await bulk(project, 301, 1);
    const after = await project.journalState();
    const rebuilt = readFileSync(indexFile(project, after.history.file));
    expect(Number(rebuilt.readBigUInt64LE(8))).toBe(after.history.bytes);
    expect(Number(rebuilt.readBigUInt64LE(16))).toBe(Number(next));
    await expectStatusMatchesList(project, [...everyone, next!]);
  }, 180_000);

  it("remove --finished compacts into a new generation with its own index; the old one goes", async () => {
    const project = useProject(onTestFinished, { tasks: { "echo.js": ECHO } });
    const ids = await bulk(project, 1, 120);
    expect((await project.cli(["remove", ids[5]!])).code).toBe(0);
    const before = await project.journalState();
    expect((await project.cli(["remove", "--finished", "--older-than", "1h"])).code).toBe(0);
    // Nothing is older than an hour: only the tombstone and the removed task's line go.
    const after = await project.journalState();
    expect(after.history.file).not.toBe(before.history.file);
    expect(
      readdirSync(project.home)
        .filter((n) => n.startsWith("history"))
        .sort(),
    ).toEqual([after.history.file, after.history.file.replace(/\.jsonl$/, ".idx")].sort());
    expect(Number(readFileSync(indexFile(project, after.history.file)).readBigUInt64LE(8))).toBe(after.history.bytes);
    await expectStatusMatchesList(project, [ids[0]!, ids[5]!, ids[60]!, ids[119]!]);
    const record: TaskRecord = await project.status(ids[0]!);
    expect(record).toMatchObject({ status: "succeeded", message: "item 1 try 1" });
  }, 120_000);
});
