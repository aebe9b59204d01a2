// D8: a journal bgtask cannot read is never read as empty and never rewritten: every command exits
// 3 with one sentence naming the file, and the file stays byte-identical. Temp files left by killed
// writers are ignored by readers and swept by a later writer once they are older than the stale threshold.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { copyOfProject, homeEntries, readJournalState, sha256, templateProject } from "../helpers/journal.ts";
import type { Project } from "../helpers/project.ts";

/** A home whose journal holds finished tasks 1 and 2 (in the history) and a queued task 3, made once. */
let template: Project;
beforeAll(async () => {
  template = await templateProject();
});
afterAll(() => template?.cleanup());

function projectWithJournal(): Project {
  return copyOfProject(template, onTestFinished);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** Every command that reads or writes the journal; run at once, so together they also race the file. */
const COMMANDS = [["run", "--no-worker", "noop"], ["run", "noop"], ["list"], ["list", "--json"], ["status", "1"], ["status", "3", "--json"]];

async function expectExit3Everywhere(project: Project, file: string, says: RegExp, commands = COMMANDS): Promise<void> {
  const bytes = (path: string) => (!existsSync(path) ? "absent" : statSync(path).isDirectory() ? "a directory" : sha256(readFileSync(path)));
  const before = JSON.stringify([bytes(project.journalPath), bytes(join(project.home, "history.jsonl")), homeEntries(project)]);
  const results = await Promise.all(commands.map((args) => project.cli(args)));
  for (const [i, args] of commands.entries()) {
    const result = results[i]!;
    const label = `${args.join(" ")}`;
    expect(result.code, `${label}: ${result.stderr}`).toBe(3);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines, label).toHaveLength(1);
    expect(lines[0], label).toContain(`bgtask: the journal ${file} cannot be read (`);
    expect(lines[0], label).toMatch(says);
    expect(lines[0], label).toContain("run `bgtask doctor` to see what is damaged and `bgtask doctor --repair` to rebuild it");
    // Whatever the file holds is not echoed raw onto the terminal.
    expect(lines[0], label).not.toMatch(CONTROL);
    if (args.includes("--json")) expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: "EJOURNALCORRUPT" } });
  }
  const after = JSON.stringify([bytes(project.journalPath), bytes(join(project.home, "history.jsonl")), homeEntries(project)]);
  expect(after, "a command changed the files").toBe(before);
  // No worker was started against a journal it cannot read.
  expect(project.workers()).toEqual([]);
}

describe("D8 J1/J3: a journal that cannot be read", () => {
  // Tasks live in the log journal.json names (until a compaction folds them in): task-level damage is done there.
  const corruptions: Array<{ name: string; make: (good: Buffer) => Buffer | string; says: RegExp; inLog?: boolean }> = [
    { name: "truncated to half", make: (good) => good.subarray(0, Math.floor(good.length / 2)), says: /it is not valid JSON/ },
    { name: "0 bytes", make: () => Buffer.alloc(0), says: /it is empty/ },
    { name: "4 KiB of NULs", make: () => Buffer.alloc(4096), says: /it is not valid JSON/ },
    { name: "invalid UTF-8 before the JSON", make: (good) => Buffer.concat([Buffer.from([0xff, 0xfe]), good]), says: /it is not valid UTF-8/ },
    {
      // Decoded leniently this would parse (as U+FFFD) and the next write would silently change the task.
      name: "invalid UTF-8 inside a string",
      make: (good) => Buffer.from(good.toString("latin1").replace('"executor":"noop"', '"executor":"no\xffop"'), "latin1"),
      says: /it is not valid UTF-8/,
      inLog: true,
    },
    { name: "JSON of the wrong shape", make: () => '{"tasks":{}}\n', says: /unexpected content/ },
    { name: "a JSON array", make: () => "[]\n", says: /unexpected content/ },
    {
      name: "a task of the wrong shape",
      make: (good) => good.toString().replace('"status":"queued"', '"status":"exploded"'),
      says: /a logged task is malformed/,
      inLog: true,
    },
    {
      name: "a future version",
      make: (good) => good.toString().replace(/"version":\d+/, '"version":99'),
      says: /written by a newer bgtask \(format version 99/,
    },
    {
      name: "a flipped digit in journal.json (its crc)",
      make: (good) => good.toString().replace('"nextId":1,', '"nextId":3,'),
      says: /its bytes do not match its checksum/,
    },
    {
      name: "a flipped digit in a logged task (its transaction's crc)",
      make: (good) => good.toString().replace('"progress":0', '"progress":8'),
      says: /the transaction committed as rev 1 does not match its checksum/,
      inLog: true,
    },
    {
      name: "a commit line's rev changed",
      make: (good) => good.toString().replace('{"commit":2,', '{"commit":7,'),
      says: /a commit line says rev 7 where rev 2 comes next/,
      inLog: true,
    },
    // The mark: acknowledged commits the log no longer holds are found out, never dropped silently.
    {
      name: "the log cut mid-file",
      make: (good) => good.subarray(0, Math.floor(good.length / 2)),
      says: /commits up to rev \d+ were acknowledged but the log ends at rev \d+/,
      inLog: true,
    },
    { name: "the log emptied", make: () => Buffer.alloc(0), says: /commits up to rev \d+ were acknowledged but the log ends at rev 0/, inLog: true },
  ];

  for (const corruption of corruptions) {
    it(`${corruption.name}: every command exits 3 naming the file, which stays byte-identical`, async () => {
      const project = projectWithJournal();
      const path = corruption.inLog ? project.logPath : project.journalPath;
      const corrupt = corruption.make(readFileSync(path));
      expect(Buffer.compare(Buffer.from(corrupt), readFileSync(path))).not.toBe(0);
      writeFileSync(path, corrupt);
      await expectExit3Everywhere(project, path, corruption.says);
    });
  }

  it("a directory where the journal should be: exit 3, nothing touched", async () => {
    const project = projectWithJournal();
    rmSync(project.journalPath);
    mkdirSync(project.journalPath);
    writeFileSync(join(project.journalPath, "inside"), "x");
    await expectExit3Everywhere(project, project.journalPath, /it is not a regular file/);
    expect(readFileSync(join(project.journalPath, "inside"), "utf8")).toBe("x");
  });

  it("a journal that is a symbolic link is refused, and its target is untouched", async () => {
    const project = projectWithJournal();
    const elsewhere = join(project.dir, "elsewhere.json");
    writeFileSync(elsewhere, readFileSync(project.journalPath));
    rmSync(project.journalPath);
    symlinkSync(elsewhere, project.journalPath);
    const target = sha256(readFileSync(elsewhere));
    await expectExit3Everywhere(project, project.journalPath, /symbolic link/);
    expect(sha256(readFileSync(elsewhere))).toBe(target);
  });

  // Tests run as root in CI, where chmod 000 does not stop a read: the case only means something otherwise.
  it.skipIf(process.getuid?.() === 0)("an unreadable journal (chmod 000): exit 3, nothing touched", async () => {
    const project = projectWithJournal();
    chmodSync(project.journalPath, 0o000);
    onTestFinished(() => chmodSync(project.journalPath, 0o600));
    const commands = [["run", "--no-worker", "noop"], ["list"], ["status", "1"]];
    for (const args of commands) {
      const result = await project.cli(args);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(project.journalPath);
    }
  });

  it("a history shorter than the journal committed: reads of finished tasks exit 3 naming the history", async () => {
    const project = projectWithJournal();
    const history = join(project.home, "history.jsonl");
    writeFileSync(history, readFileSync(history).subarray(0, 10));
    const before = sha256(readFileSync(history));
    for (const args of [["list"], ["status", "2"]]) {
      const result = await project.cli(args);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`the journal ${history} cannot be read`);
    }
    expect(sha256(readFileSync(history))).toBe(before);
  });
});

describe("history lines are checked against the record format", () => {
  it("a status that does not exist: list and status exit 3 naming the history, never a crash", async () => {
    const project = projectWithJournal();
    const history = join(project.home, "history.jsonl");
    writeFileSync(history, readFileSync(history, "utf8").replace(/("id":"2".*?)"status":"succeeded"/, '$1"status":"zzzzzzzzz"'));
    for (const args of [["list"], ["list", "--json"], ["status", "2"], ["status", "2", "--json"]]) {
      const result = await project.cli(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(3);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`the journal ${history} cannot be read (a task line is malformed`);
      expect(result.stderr).toContain("bgtask doctor");
    }
  });
});

describe("D8 J2: temp files left by killed writers", () => {
  it("are ignored by readers and swept by the next writer once older than the stale threshold", async () => {
    const project = projectWithJournal();
    const good = readFileSync(project.journalPath);
    const tempPath = (name: string) => join(project.home, name);
    const old = [".journal.json.4242-0123456789ab.tmp", ".journal.json.tmp"]; // ours, and steno's fixed name
    const fresh = ".journal.json.4243-ba9876543210.tmp";
    const anHourAgo = new Date(Date.now() - 3_600_000);
    for (const name of [...old, fresh]) writeFileSync(tempPath(name), '{"format":"bgtask-journal","version":1,"rev":999,"tasks":[');
    for (const name of old) utimesSync(tempPath(name), anHourAgo, anHourAgo);
    // "Fresh" however long this test takes to get to the writer, even on a loaded machine.
    const inAnHour = new Date(Date.now() + 3_600_000);
    utimesSync(tempPath(fresh), inAnHour, inAnHour);

    // Readers neither read nor remove them.
    const listed = await project.list();
    expect(listed.map((t) => t.id)).toEqual(["1", "2", "3"]);
    expect((await project.cli(["status", "3"])).code).toBe(0);
    for (const name of [...old, fresh]) expect(existsSync(tempPath(name)), name).toBe(true);
    expect(readFileSync(project.journalPath).equals(good)).toBe(true);

    // A writer sweeps the old ones, leaves the fresh one (a writer may be using it), never renames one into place.
    const run = await project.cli(["run", "--no-worker", "noop"]);
    expect(run.code, run.stderr).toBe(0);
    for (const name of old) expect(existsSync(tempPath(name)), name).toBe(false);
    expect(existsSync(tempPath(fresh))).toBe(true);
    const state = readJournalState(project);
    expect([...state.counts.keys()].sort()).toEqual(["1", "2", "3", "4"]);
    expect(state.doc.rev).not.toBe(999);
  });
});
