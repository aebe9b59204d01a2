// `bgtask doctor` and `doctor --repair` on each kind of damage: before the repair the commands exit 3
// naming the file and doctor; doctor names it too; the repair keeps byte-exact copies, reports the
// ids it lost (exit 1) or that nothing was (exit 0), and every command works again after it.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { copyOfProject, sha256, templateProject } from "../helpers/journal.ts";
import { type Project, useProject } from "../helpers/project.ts";

/** Finished tasks 1 and 2 (in the history) and a queued task 3, as in corrupt-journal.test.ts. */
let template: Project;
beforeAll(async () => {
  template = await templateProject();
});
afterAll(() => template?.cleanup());

function projectWithJournal(from = template): Project {
  return copyOfProject(from, onTestFinished);
}

const JOURNAL_FILE = /^(journal\.json|journal\.\d+\.log|journal\.mark|history[\w.-]*\.(jsonl|idx)|\.journal\.json\..*tmp)$/;

/** What each journal file holds: its bytes' hash, a link's target, a folder's files. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).filter((n) => JOURNAL_FILE.test(n))) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    out[name] = stat.isSymbolicLink()
      ? `link ${readlinkSync(path)}`
      : stat.isDirectory()
        ? `dir ${JSON.stringify(fingerprint(path))}${readdirSync(path)
            .map((n) => sha256(readFileSync(join(path, n))))
            .join()}`
        : sha256(readFileSync(path));
  }
  return out;
}

interface Report {
  healthy: boolean;
  files: Array<{ role: string; file: string; status: string; problem: string | null }>;
}
interface Repair {
  repaired: boolean;
  copies: string;
  kept: number;
  lost: string[];
  stale: string[];
  unverified: string[];
  nextId: number;
  lostSomething: boolean;
}

async function doctorJson(project: Project): Promise<{ code: number; report: Report }> {
  const result = await project.cli(["doctor", "--json"]);
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

interface Damage {
  name: string;
  /** Damages the copy; returns the file the commands must name. */
  make: (project: Project) => string;
  role: string;
  says: RegExp;
  /** Commands that must refuse before the repair (all of them when absent). */
  refuse?: string[][];
  lost: string[];
  /** Ids the rebuilt journal must hold. */
  kept: string[];
  exit: 0 | 1;
  from?: () => Project;
}

const REFUSE = [["list"], ["status", "1"], ["run", "--no-worker", "noop"]];
const rewrite = (path: string, edit: (text: string) => string) => writeFileSync(path, edit(readFileSync(path, "latin1")), "latin1");
const history = (project: Project) => join(project.home, "history.jsonl");

const damages: Damage[] = [
  {
    name: "journal.json truncated to half",
    role: "snapshot",
    make: (p) => (truncateSync(p.journalPath, 80), p.journalPath),
    says: /not valid JSON/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json of 0 bytes",
    role: "snapshot",
    make: (p) => (writeFileSync(p.journalPath, ""), p.journalPath),
    says: /it is empty/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json of 4 KiB of NULs",
    role: "snapshot",
    make: (p) => (writeFileSync(p.journalPath, Buffer.alloc(4096)), p.journalPath),
    says: /not valid JSON/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json with invalid UTF-8 before the JSON",
    role: "snapshot",
    make: (p) => (writeFileSync(p.journalPath, Buffer.concat([Buffer.from([0xff, 0xfe]), readFileSync(p.journalPath)])), p.journalPath),
    says: /not valid UTF-8/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json of the wrong shape",
    role: "snapshot",
    make: (p) => (writeFileSync(p.journalPath, '{"tasks":{}}\n'), p.journalPath),
    says: /unexpected content/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json a JSON array",
    role: "snapshot",
    make: (p) => (writeFileSync(p.journalPath, "[]\n"), p.journalPath),
    says: /unexpected content/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json with a flipped digit in its head",
    role: "snapshot",
    make: (p) => (rewrite(p.journalPath, (t) => t.replace('"nextId":1,', '"nextId":7,')), p.journalPath),
    says: /do not match its checksum/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "a directory where journal.json should be",
    role: "snapshot",
    make: (p) => {
      rmSync(p.journalPath);
      mkdirSync(p.journalPath);
      writeFileSync(join(p.journalPath, "inside"), "x");
      return p.journalPath;
    },
    says: /not a regular file/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    name: "journal.json a symbolic link",
    role: "snapshot",
    make: (p) => {
      writeFileSync(join(p.dir, "elsewhere.json"), readFileSync(p.journalPath));
      rmSync(p.journalPath);
      symlinkSync(join(p.dir, "elsewhere.json"), p.journalPath);
      return p.journalPath;
    },
    says: /symbolic link/,
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
  {
    // The first transaction (task 1's enqueue) fails: the log is kept up to before it; 1 and 2 are in the history.
    name: "the log with invalid UTF-8 inside a string",
    role: "log",
    make: (p) => (rewrite(p.logPath, (t) => t.replace('"executor":"noop"', '"executor":"no\xffop"')), p.logPath),
    says: /not valid UTF-8/,
    lost: ["3"],
    kept: ["1", "2"],
    exit: 1,
  },
  {
    name: "the log with a task of the wrong shape",
    role: "log",
    make: (p) => (rewrite(p.logPath, (t) => t.replace('"status":"queued"', '"status":"exploded"')), p.logPath),
    says: /a logged task is malformed/,
    lost: ["3"],
    kept: ["1", "2"],
    exit: 1,
  },
  {
    name: "the log with a flipped digit in the last transaction (its crc)",
    role: "log",
    make: (p) => {
      const path = p.logPath;
      rewrite(path, (t) => {
        const at = t.lastIndexOf('{"put":{"id":"3"');
        return t.slice(0, at) + t.slice(at).replace('"progress":0', '"progress":5');
      });
      return path;
    },
    says: /does not match its checksum/,
    lost: ["3"],
    kept: ["1", "2"],
    exit: 1,
  },
  {
    name: "the log cut mid-file (the mark)",
    role: "log",
    make: (p) => (truncateSync(p.logPath, Math.floor(readFileSync(p.logPath).length / 2)), p.logPath),
    says: /commits up to rev \d+ were acknowledged but the log ends at rev \d+/,
    lost: ["3"],
    kept: ["1", "2"],
    exit: 1,
  },
  {
    name: "the log emptied (the mark)",
    role: "log",
    make: (p) => (writeFileSync(p.logPath, ""), p.logPath),
    says: /commits up to rev \d+ were acknowledged but the log ends at rev 0/,
    lost: ["3"],
    kept: ["1", "2"],
    exit: 1,
  },
  {
    name: "a history shorter than the journal committed",
    role: "history",
    make: (p) => (truncateSync(history(p), 10), history(p)),
    says: /shorter than the \d+ bytes the journal committed|bytes long but the journal committed/,
    refuse: [["list"], ["status", "2"]],
    lost: ["1", "2"],
    kept: ["3"],
    exit: 1,
  },
  {
    name: "a history line with a status that does not exist",
    role: "history",
    make: (p) => (rewrite(history(p), (t) => t.replace(/("id":"2".*?)"status":"succeeded"/, '$1"status":"zzzzzzzzz"')), history(p)),
    says: /a task line is malformed/,
    refuse: [["list"], ["status", "2"], ["status", "2", "--json"]],
    lost: ["2"],
    kept: ["1", "3"],
    exit: 1,
  },
  {
    name: "a garbled history index (a cache: commands still work)",
    role: "index",
    make: (p) => {
      const path = join(p.home, "history.idx");
      const bytes = readFileSync(path);
      bytes[24] = bytes[24]! ^ 0x5a;
      writeFileSync(path, bytes);
      return path;
    },
    says: /does not point at that task's newest history line/,
    refuse: [],
    lost: [],
    kept: ["1", "2", "3"],
    exit: 0,
  },
];

async function expectRefused(project: Project, file: string, says: RegExp, commands: string[][]): Promise<void> {
  for (const args of commands) {
    const result = await project.cli(args);
    expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(3);
    expect(result.stderr).toContain(`the journal ${file} cannot be read (`);
    expect(result.stderr).toMatch(says);
    expect(result.stderr).toContain("run `bgtask doctor` to see what is damaged and `bgtask doctor --repair` to rebuild it");
  }
}

describe("bgtask doctor and doctor --repair", () => {
  it("a healthy journal: doctor exits 0, --repair changes nothing and exits 0", async () => {
    const project = projectWithJournal();
    const before = fingerprint(project.home);
    const { code, report } = await doctorJson(project);
    expect(code).toBe(0);
    expect(report.healthy).toBe(true);
    const human = await project.cli(["doctor"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("the journal is healthy");
    const repaired = await project.cli(["doctor", "--repair", "--json"]);
    expect(repaired.code).toBe(0);
    expect((JSON.parse(repaired.stdout) as Repair).repaired).toBe(false);
    expect(fingerprint(project.home)).toEqual(before);
  });

  for (const damage of damages) {
    it(`${damage.name}: found, copied exactly, rebuilt; lost ${damage.lost.join(",") || "nothing"}`, async () => {
      const project = projectWithJournal(damage.from?.());
      const file = damage.make(project);
      await expectRefused(project, file, damage.says, damage.refuse ?? REFUSE);

      const { code, report } = await doctorJson(project);
      expect(code).toBe(3);
      expect(report.healthy).toBe(false);
      const judged = report.files.find((f) => f.role === damage.role)!;
      expect(judged.status).toBe("damaged");
      expect(judged.problem).toMatch(damage.says);
      const human = await project.cli(["doctor"]);
      expect(human.code).toBe(3);
      expect(human.stdout).toContain("bgtask doctor --repair");

      const before = fingerprint(project.home);
      const repaired = await project.cli(["doctor", "--repair", "--json"]);
      expect(repaired.code, repaired.stdout.replace(/"before"[\s\S]*?"copies"/, "")).toBe(damage.exit);
      const result = JSON.parse(repaired.stdout) as Repair;
      expect(result.repaired).toBe(true);
      expect(result.lost).toEqual(damage.lost);
      expect(result.lostSomething).toBe(damage.exit === 1);
      // The copies hold every journal file exactly as it was.
      expect(fingerprint(result.copies)).toEqual(before);

      const after = await doctorJson(project);
      expect(after.code, JSON.stringify(after.report)).toBe(0);
      const listed = await project.list();
      expect(listed.map((t) => t.id).sort()).toEqual([...damage.kept].sort());
      for (const id of damage.kept) expect((await project.status(id)).id).toBe(id);
      for (const id of damage.lost) expect((await project.cli(["status", id])).code).toBe(2);
      // Ids are never handed out again.
      const next = await project.run("noop", ["--no-worker"]);
      expect(Number(next)).toBeGreaterThanOrEqual(4);
      expect(Number(next)).toBe(result.nextId);
    });
  }

  it("a journal.json written by a newer bgtask: doctor says so, --repair refuses and leaves it", async () => {
    const project = projectWithJournal();
    rewrite(project.journalPath, (t) => t.replace(/"version":\d+/, '"version":99'));
    const before = fingerprint(project.home);
    const { code, report } = await doctorJson(project);
    expect(code).toBe(3);
    expect(report.files[0]!.problem).toMatch(/newer bgtask/);
    const repaired = await project.cli(["doctor", "--repair"]);
    expect(repaired.code).toBe(3);
    expect(repaired.stderr).toMatch(/written by a newer bgtask/);
    expect(fingerprint(project.home)).toEqual(before);
  });

  it("a flipped digit in a compacted journal.json: its tasks are kept as read and reported unverified (exit 1)", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const contexts = join(project.dir, "many.jsonl");
    writeFileSync(contexts, Array.from({ length: 600 }, () => JSON.stringify({ pad: "x".repeat(400) })).join("\n"));
    expect((await project.cli(["run", "--no-worker", "noop", "--each", contexts])).code).toBe(0);
    expect(project.logPath.endsWith("journal.2.log"), "the bulk enqueue was folded into journal.json").toBe(true);
    rewrite(project.journalPath, (t) =>
      t.replace(
        '"id":"17","executor":"noop","status":"queued","completed":false,"context":{"pad":"x',
        '"id":"17","executor":"noop","status":"queued","completed":false,"context":{"pad":"y',
      ),
    );
    await expectRefused(project, project.journalPath, /do not match its checksum/, REFUSE);
    const repaired = await project.cli(["doctor", "--repair", "--json"]);
    expect(repaired.code).toBe(1);
    const result = JSON.parse(repaired.stdout) as Repair;
    expect(result.lost).toEqual([]);
    expect(result.unverified).toHaveLength(600);
    expect(result.kept).toBe(600);
    expect((await project.list()).length).toBe(600);
    expect(await project.run("noop", ["--no-worker"])).toBe("601");
  });

  it("leaves nothing behind that makes the next command wait, and a second repair finds nothing to do", async () => {
    const project = projectWithJournal();
    writeFileSync(project.logPath, "");
    expect((await project.cli(["doctor", "--repair"])).code).toBe(1);
    expect(existsSync(join(project.home, "journal.lock"))).toBe(false);
    const again = await project.cli(["doctor", "--repair"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to repair");
  });

  it("journal.json deleted while its history and mark remain: commands refuse (no id is handed out twice), --repair rebuilds it", async () => {
    const project = projectWithJournal();
    const before = await project.list();
    rmSync(project.journalPath);
    for (const args of [["list"], ["run", "--no-worker", "noop"], ["status", "1"]]) {
      const result = await project.cli(args);
      expect(result.code, args.join(" ")).toBe(3);
      expect(result.stderr).toMatch(/journal\.json cannot be read \(it is missing, but the home holds .*journal\.mark/);
      expect(result.stderr).toContain("bgtask doctor");
    }
    const repair = await project.cli(["doctor", "--repair"]);
    expect(repair.code, repair.stdout + repair.stderr).toBe(0);
    expect((await project.list()).map((t) => t.id).sort()).toEqual(before.map((t) => t.id).sort());
    const id = await project.run("noop", ["--no-worker"]);
    expect(before.map((t) => t.id)).not.toContain(id);
  });
});
