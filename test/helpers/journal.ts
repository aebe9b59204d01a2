// Ground truth for the reliability suites: reads a project's journal files directly (not through
// the CLI), checks them the way RELIABILITY.md §D defines "valid", and starts workers by hand.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import type { TaskRecord } from "../../src/core/task.ts";
import { readLogFrom, replay } from "../../src/journal/file/write-ahead-log.ts";
import { checkDoc, upgraded, type JournalDoc } from "../../src/journal/file/schema.ts";
import { ColdReader } from "../../src/journal/file/cold-queue.ts";
import { WORKER_NODE_FLAGS } from "../../src/worker/spawn.ts";
import { cpSync } from "node:fs";
import { fixture } from "./fixtures.ts";
import { Project, REPO, useProject } from "./project.ts";

export interface JournalState {
  doc: JournalDoc;
  /** Final tasks from the committed part of the history, oldest first. */
  history: TaskRecord[];
  /** Tasks waiting in the cold queue's committed segment, in id order. */
  cold: TaskRecord[];
  /** Every task id the journal holds, with how many times it appears (active set + cold queue + history). */
  counts: Map<string, number>;
  /** The newest record of each task. */
  byId: Map<string, TaskRecord>;
}

/**
 * Parses journal.json, replays the committed part of the log it names and reads the committed
 * history, all strictly; throws with the reason when any of them is invalid.
 */
export function readJournalState(project: Project): JournalState {
  const text = readFileSync(project.journalPath, "utf8");
  const parsed: unknown = JSON.parse(text);
  const problem = checkDoc(parsed);
  if (problem !== null) throw new Error(`journal.json is not valid: ${problem}`);
  const doc = upgraded(parsed as JournalDoc);
  const logPath = join(project.home, doc.log);
  replay(logPath, doc, readLogFrom(logPath, 0));
  const historyPath = join(project.home, doc.history.file);
  const history: TaskRecord[] = [];
  if (doc.history.bytes > 0) {
    const bytes = readFileSync(historyPath);
    if (bytes.length < doc.history.bytes) throw new Error(`history is ${bytes.length} bytes, journal committed ${doc.history.bytes}`);
    const committed = bytes.subarray(0, doc.history.bytes).toString("utf8");
    if (!committed.endsWith("\n")) throw new Error("committed history does not end with a newline");
    for (const line of committed.slice(0, -1).split("\n")) history.push(JSON.parse(line) as TaskRecord);
  }
  const cold = [...new ColdReader(project.home).tasks(doc.queue)];
  const counts = new Map<string, number>();
  const byId = new Map<string, TaskRecord>();
  for (const task of [...history, ...cold, ...doc.tasks]) {
    counts.set(task.id, (counts.get(task.id) ?? 0) + 1);
    byId.set(task.id, task);
  }
  return { doc, history, cold, counts, byId };
}

/** Ids that are missing or appear more than once, among `acknowledged`; plus duplicates of any id. */
export function journalProblems(state: JournalState, acknowledged: Iterable<string>): string[] {
  const problems: string[] = [];
  for (const id of acknowledged) if (!state.counts.has(id)) problems.push(`acknowledged task ${id} is missing`);
  for (const [id, n] of state.counts) if (n !== 1) problems.push(`task ${id} appears ${n} times`);
  return problems;
}

export function sha256(bytes: Buffer | null): string {
  return bytes === null ? "absent" : createHash("sha256").update(bytes).digest("hex");
}

/** Names in the home folder (not recursive): shows leftover locks and temp files. */
export function homeEntries(project: Project): string[] {
  return existsSync(project.home) ? readdirSync(project.home).sort() : [];
}

const WORKER_ENTRY = join(REPO, "dist/worker/main.js");

/** Starts a worker the way spawn.ts does (its V8 flags included), but attached, so a test can give it its own env and await its end. */
export function startWorker(project: Project, env: Record<string, string> = {}): ResultPromise<{ reject: false }> {
  return execa(process.execPath, [...WORKER_NODE_FLAGS, WORKER_ENTRY], {
    cwd: project.dir,
    reject: false,
    stdin: "ignore",
    env: {
      ...project.env,
      BGTASK_ROOT: project.dir,
      BGTASK_HOME: project.home,
      BGTASK_TASKS: join(project.dir, "tasks"),
      BGTASK_JOURNAL: project.home,
      ...env,
    },
    extendEnv: true,
  }) as unknown as ResultPromise<{ reject: false }>;
}

/**
 * A hand-edited log with each commit's crc made to fit its edited transaction again: what a
 * deliberate edit (rather than damage) looks like, for tests of what a reader does with content.
 */
export function resealLog(text: string): string {
  let transaction = "";
  return text
    .split(/(?<=\n)/)
    .map((line) => {
      const commit = /^\{"commit":(\d+),"crc":\d+\}\n$/.exec(line);
      if (!commit) {
        transaction += line;
        return line;
      }
      const sealed = `{"commit":${commit[1]},"crc":${crc32(Buffer.from(transaction, "utf8"))}}\n`;
      transaction = "";
      return sealed;
    })
    .join("");
}

/** A project whose journal holds finished tasks 1 and 2 (in the history) and a queued task 3: the damage suites' template. */
export async function templateProject(): Promise<Project> {
  const template = new Project({ tasks: { "noop.js": fixture("noop.js") } });
  for (const step of ["run", "run", "worker", "run"]) {
    if (step === "worker") {
      if ((await startWorker(template)).exitCode !== 0) throw new Error("the template's worker failed");
    } else if ((await template.cli(["run", "--no-worker", "noop"])).code !== 0) throw new Error("the template's run failed");
  }
  return template;
}

/** A fresh project (removed when the test ends) whose home is a copy of `template`'s. */
export function copyOfProject(template: Project, onFinished: (fn: () => void) => void): Project {
  const project = useProject(onFinished, { tasks: { "noop.js": fixture("noop.js") } });
  cpSync(template.home, project.home, { recursive: true, verbatimSymlinks: true });
  return project;
}
