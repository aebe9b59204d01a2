// The TaskOutput contract (src/journal/task-output.ts): one suite for the output every store gives,
// run from each store's .test.ts beside the JournalStore contract. Logs are whole lines, read in
// order from where the last read stopped; attachments come back byte for byte, replaced whole;
// removing a task removes its output. Nothing is written outside the output's own place.
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { text as streamText } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { MAX_ATTACHMENT_BYTES } from "../../src/core/task-output.ts";
import { UsageError } from "../../src/errors.ts";
import type { JournalStore } from "../../src/journal/store.ts";
import type { StoredAttachment, TaskOutput } from "../../src/journal/task-output.ts";
import { waitFor } from "../helpers/project.ts";
import type { OpenedStore } from "./store/index.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");

async function bytesOf(stored: StoredAttachment): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stored.open()) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function readAll(output: TaskOutput, id: string): Promise<string> {
  let all = "";
  await output.logReader(id).readNew((text) => {
    all += text;
  });
  return all;
}

/** `open` opens a fresh store; `inHome`: its output is in the bgtask home (else the home stays empty); `limited`: it enforces MAX_ATTACHMENT_BYTES. */
export function describeTaskOutput(name: string, open: () => Promise<OpenedStore>, options: { inHome: boolean; limited: boolean }): void {
  describe(`TaskOutput contract: ${name}`, () => {
    let store: JournalStore;
    let output: TaskOutput;
    let home: string;
    let opened: OpenedStore | null = null;
    const fresh = async (tasks = 2) => {
      opened = await open();
      store = opened.store;
      home = mkdtempSync(join(tmpdir(), "bgtask-output-"));
      output = store.taskOutput(home);
      const input = { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null };
      return (
        await store.enqueue(
          Array.from({ length: tasks }, () => input),
          T0,
          null,
        )
      ).tasks.map((t) => t.id);
    };
    afterEach(async () => {
      if (!options.inHome) expect(readdirSync(home)).toEqual([]);
      rmSync(home, { recursive: true, force: true });
      await opened?.store.close();
      await opened?.dispose();
      opened = null;
    });

    it("a log is whole lines in order; each read hands over what came since the last; a task without one reads as empty", async () => {
      const [a, b] = await fresh();
      expect(await readAll(output, a!)).toBe("");
      expect(await output.logTail(a!, 5, 64 * 1024)).toEqual({ text: "", cut: false });
      const writer = output.logWriter(a!);
      await writer.append("one\n");
      await writer.append("two\nthree\n");
      const reader = output.logReader(a!);
      const seen: string[] = [];
      await reader.readNew((text) => void seen.push(text));
      expect(seen.join("")).toBe("one\ntwo\nthree\n");
      await reader.readNew((text) => void seen.push(`again:${text}`));
      expect(seen.join("")).toBe("one\ntwo\nthree\n");
      await writer.append("four\n");
      seen.length = 0;
      await reader.readNew((text) => void seen.push(text));
      expect(seen).toEqual(["four\n"]);
      writer.close();
      // Another task's log is its own.
      await output.logWriter(b!).append("other\n");
      expect(await readAll(output, b!)).toBe("other\n");
      expect(await readAll(output, a!)).toBe("one\ntwo\nthree\nfour\n");
    });

    it("the tail holds at least the last lines asked for, as whole lines; a long log is read in pieces", async () => {
      const [id] = await fresh(1);
      const writer = output.logWriter(id!);
      const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${"x".repeat(100)}\n`);
      for (let i = 0; i < lines.length; i += 100) await writer.append(lines.slice(i, i + 100).join(""));
      writer.close();
      const { text, cut } = await output.logTail(id!, 3, 64 * 1024);
      const tail = text.split("\n");
      tail.pop();
      if (cut) tail.shift();
      expect(tail.slice(-3)).toEqual(lines.slice(-3).map((l) => l.slice(0, -1)));
      expect(text.length).toBeLessThanOrEqual(80 * 1024);
      let pieces = 0;
      let all = "";
      await output.logReader(id!).readNew((piece) => {
        pieces += 1;
        all += piece;
        expect(piece.endsWith("\n")).toBe(true);
      });
      expect(all).toBe(lines.join(""));
      expect(pieces).toBeGreaterThanOrEqual(1);
    });

    it("watchLog tells a follower soon after lines were appended", async () => {
      const [id] = await fresh(1);
      let told = 0;
      const watch = output.watchLog(id!, () => (told += 1));
      try {
        // A watcher set up as the follower starts: the first append may race its set-up, so append until told.
        await waitFor(
          async () => {
            await output.logWriter(id!).append("hello\n");
            return told > 0;
          },
          10_000,
          () => "never told of an append",
          200,
        );
      } finally {
        watch.close();
      }
    });

    it("attachments come back byte for byte, whatever they were made from, and a name attached again is replaced", async () => {
      const [id] = await fresh(1);
      const source = join(home, "..", `bgtask-source-${randomBytes(4).toString("hex")}`);
      const big = randomBytes(600 * 1024 + 7);
      writeFileSync(source, big);
      try {
        const made = [
          await output.putAttachment(id!, "text.txt", "héllo\n"),
          await output.putAttachment(id!, "bytes.bin", new Uint8Array([0, 1, 2, 255])),
          await output.putAttachment(id!, "copy.bin", { path: source }),
          await output.putAttachment(id!, "streamed.bin", {
            chunks: (async function* () {
              for (let at = 0; at < big.length; at += 100_000) yield big.subarray(at, at + 100_000);
            })(),
          }),
          await output.putAttachment(id!, "empty", ""),
        ];
        expect(made.map((a) => [a.name, a.size])).toEqual([
          ["text.txt", 7],
          ["bytes.bin", 4],
          ["copy.bin", big.length],
          ["streamed.bin", big.length],
          ["empty", 0],
        ]);
        const read = async (index: number) => bytesOf(await output.openAttachment(id!, made[index]!));
        expect((await read(0)).toString()).toBe("héllo\n");
        expect([...(await read(1))]).toEqual([0, 1, 2, 255]);
        expect((await read(2)).equals(big)).toBe(true);
        expect((await read(3)).equals(big)).toBe(true);
        expect((await read(4)).length).toBe(0);
        const replaced = await output.putAttachment(id!, "copy.bin", "short");
        const stored = await output.openAttachment(id!, replaced);
        expect(stored.size).toBe(5);
        expect(await streamText(stored.open())).toBe("short");
      } finally {
        rmSync(source, { force: true });
      }
    });

    it("an attachment the record names but the output does not have is a UsageError", async () => {
      const [id] = await fresh(1);
      await expect(output.openAttachment(id!, { name: "ghost.txt", path: "/nowhere", size: 3 })).rejects.toBeInstanceOf(UsageError);
    });

    it("a removed task's log and attachments are gone with it (remove, removeFinished); the others stay", async () => {
      const [removed, pruned, kept] = await fresh(3);
      for (const id of [removed!, pruned!, kept!]) {
        await output.logWriter(id).append(`log of ${id}\n`);
        await output.putAttachment(id, "a.txt", `attachment of ${id}`);
      }
      expect((await store.remove([removed!], T0)).removed).toHaveLength(1);
      output.removeTasks([removed!]);
      await store.cancel(pruned!, T0);
      expect(await store.removeFinished(null, T0)).toEqual([pruned]);
      output.removeTasks([pruned!]);
      for (const id of [removed!, pruned!]) {
        expect(await readAll(output, id)).toBe("");
        await expect(output.openAttachment(id, { name: "a.txt", path: "", size: 16 })).rejects.toBeInstanceOf(UsageError);
        if (options.inHome) expect(existsSync(join(home, "attachments", id))).toBe(false);
      }
      expect(await readAll(output, kept!)).toBe(`log of ${kept}\n`);
      expect(await streamText((await output.openAttachment(kept!, { name: "a.txt", path: "", size: 16 })).open())).toBe(`attachment of ${kept}`);
    });

    it.runIf(options.limited)(
      `refuses an attachment over ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB before writing any of it, and keeps the one it would replace`,
      async () => {
        const [id] = await fresh(1);
        await output.putAttachment(id!, "big", "small before");
        await expect(output.putAttachment(id!, "big", new Uint8Array(MAX_ATTACHMENT_BYTES + 1))).rejects.toThrow(
          /attachment "big" is refused: it has more than 67108864 bytes .*64 MiB/,
        );
        const sparse = join(home, "..", `bgtask-sparse-${randomBytes(4).toString("hex")}`);
        writeFileSync(sparse, "");
        truncateSync(sparse, MAX_ATTACHMENT_BYTES + 1);
        try {
          await expect(output.putAttachment(id!, "big", { path: sparse })).rejects.toThrow(/is refused: it has more than/);
        } finally {
          rmSync(sparse, { force: true });
        }
        expect(await streamText((await output.openAttachment(id!, { name: "big", path: "", size: 12 })).open())).toBe("small before");
      },
    );
  });
}
