// watchFile: a change is reported for an append and for a rename into place (how journal.json is
// written), and polling takes over where the folder cannot be watched.
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { watchFile } from "../../src/host/file-watch.ts";
import { waitFor } from "../helpers/project.ts";

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-watch-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("watchFile", () => {
  it("reports appends and renames into place, not changes to other files", async () => {
    const dir = tempDir();
    const path = join(dir, "journal.json");
    writeFileSync(path, "1");
    let changes = 0;
    const watch = watchFile(path, () => (changes += 1), { safetyPollMs: 60_000 });
    onTestFinished(() => watch.close());

    writeFileSync(join(dir, "other.txt"), "x");
    appendFileSync(path, "2");
    await waitFor(
      () => changes === 1,
      10_000,
      () => `${changes} changes after an append`,
    );
    writeFileSync(join(dir, ".journal.json.tmp"), "123");
    renameSync(join(dir, ".journal.json.tmp"), path);
    await waitFor(
      () => changes === 2,
      10_000,
      () => `${changes} changes after a rename`,
    );
    watch.close();
    appendFileSync(path, "3");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(changes).toBe(2);
  });

  it("polls when the folder does not exist yet, and sees the file appear", async () => {
    const dir = join(tempDir(), "logs");
    const path = join(dir, "1.log");
    let changes = 0;
    const watch = watchFile(path, () => (changes += 1), { fallbackPollMs: 50 });
    onTestFinished(() => watch.close());
    mkdirSync(dir);
    writeFileSync(path, "line\n");
    await waitFor(
      () => changes >= 1,
      10_000,
      () => "the new file was never reported",
    );
  });
});
