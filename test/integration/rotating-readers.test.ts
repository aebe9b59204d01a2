// Readers of the file journal opened before compactions (issue 21): a store that read the journal,
// and the change cursor behind its change watcher, read correctly after any number of them; and
// reads never fail while another process compacts as fast as it can (a compaction unlinks the log
// journal.json named, however many reads of this process are between naming and reading it).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { ACTIVE_STATUSES, type NewTask } from "../../src/core/task.ts";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { ChangeCursor } from "../../src/journal/file/change-ids.ts";
import { openStore } from "../../src/journal/open.ts";
import type { JournalStore } from "../../src/journal/store.ts";
import { REPO, waitFor } from "../helpers/project.ts";

const LOCK = { staleMs: 2_000, waitMs: 20_000 };
const LATER = new Date(Date.now() + 3_600_000);

function input(overrides: Partial<NewTask> = {}): NewTask {
  return { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides };
}

function tempHome(): string {
  const root = mkdtempSync(join(tmpdir(), "bgtask-rotating-"));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  return join(root, "home");
}

/** The generation of the log journal.json names: one more per compaction. */
function generation(home: string): number {
  return Number(/"log":"journal\.(\d+)\.log"/.exec(readFileSync(join(home, "journal.json"), "latin1").slice(0, 256))![1]);
}

/** Compacts the journal at least `count` times: each replacement of a large scheduled task logs it whole, outgrowing the snapshot. */
async function compact(store: JournalStore, home: string, count: number): Promise<void> {
  const first = generation(home);
  for (let i = 0; generation(home) < first + count; i++) {
    await store.enqueue([input({ context: { i, pad: "c".repeat(300_000) }, key: "rotate", replace: true, runAt: LATER })], new Date(), null);
  }
}

describe("readers opened before compactions", () => {
  it("a store's list, get and cached survey, and the change cursor, read correctly after 10 compactions", async () => {
    const home = tempHome();
    const writer = await openStore(home, LOCK);
    const reader = await openStore(home, LOCK);
    const { tasks } = await writer.enqueue(
      Array.from({ length: 20 }, (_, i) => input({ context: { i } })),
      new Date(),
      null,
    );
    const ids = tasks.map((t) => t.id);
    expect((await reader.list({ statuses: ACTIVE_STATUSES })).map((t) => t.id)).toEqual(ids);
    expect((await reader.survey("here")).running).toEqual([]);
    const cursor = new ChangeCursor(home);
    expect(cursor.changed()).toEqual([]);

    await compact(writer, home, 10);
    // Across compactions the cursor cannot tell which tasks changed: it says so, then reads on from there.
    expect(cursor.changed()).toBeNull();
    const [cancelled] = await writer.cancelMany([ids[4]!], new Date());
    expect(cancelled?.task.status).toBe("cancelled");
    const { tasks: added } = await writer.enqueue([input({ context: { added: true } })], new Date(), null);
    expect(cursor.changed()?.sort()).toEqual([ids[4]!, added[0]!.id].sort());

    const active = (await reader.list({ statuses: ["queued"] })).map((t) => t.id);
    expect(active).toEqual([...ids.filter((id) => id !== ids[4]), added[0]!.id]);
    expect((await reader.get(ids[4]!))?.status).toBe("cancelled");
    expect((await reader.list({ ids: [ids[0]!, ids[4]!, added[0]!.id] })).map((t) => [t.id, t.status]).sort()).toEqual(
      [
        [ids[0], "queued"],
        [ids[4], "cancelled"],
        [added[0]!.id, "queued"],
      ].sort(),
    );
    // The cached document (a worker's, a tick's) catches up across them too.
    await compact(writer, home, 3);
    expect((await reader.survey("here")).running).toEqual([]);
    expect(await reader.get(added[0]!.id)).toMatchObject({ status: "queued", context: { added: true } });
  });

  it("hundreds of concurrent reads never fail while another process compacts the journal as fast as it can", async () => {
    const home = tempHome();
    const store = await openStore(home, LOCK);
    const { tasks } = await store.enqueue(
      Array.from({ length: 200 }, (_, i) => input({ context: { i, pad: "t".repeat(1_000) } })),
      new Date(),
      null,
    );
    await compact(store, home, 1);
    // The built store in a process of its own, compacting until killed.
    const compactor = execa(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { openStore } from ${JSON.stringify(join(REPO, "dist/journal/open.js"))};
         const store = await openStore(${JSON.stringify(home)}, ${JSON.stringify(LOCK)});
         const pad = "c".repeat(300000);
         for (let i = 0; ; i++) {
           await store.enqueue([{ executor: "x", context: { i, pad }, serialKey: null, retry: ${JSON.stringify(NO_RETRY)}, timeoutMs: null, runAt: new Date(${LATER.getTime()}), key: "rotate", replace: true }], new Date(), null);
         }`,
      ],
      { reject: false },
    );
    onTestFinished(() => {
      compactor.kill("SIGKILL");
    });
    const first = generation(home);
    let rounds = 0;
    await waitFor(
      async () => {
        const read = await Promise.all(tasks.map((t) => store.get(t.id)));
        expect(read.map((t) => t?.id)).toEqual(tasks.map((t) => t.id));
        const listed = await store.list({ ids: tasks.map((t) => t.id) });
        expect(listed).toHaveLength(tasks.length);
        rounds += 1;
        return generation(home) - first >= 30 && rounds >= 3;
      },
      120_000,
      () =>
        `${generation(home) - first} compactions in ${rounds} rounds (the compactor: ${compactor.exitCode === null ? "running" : `exited ${compactor.exitCode}`})`,
      0,
    );
    expect(compactor.exitCode).toBeNull();
  });
});
