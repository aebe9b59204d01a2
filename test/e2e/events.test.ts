// `bgtask events` and the client's events(): one event per transition, each with a cursor. A
// follower outlives an idle queue (a full minute under BGTASK_STRESS=1), sees tasks succeed, fail
// after a retry, report progress and be recovered from a SIGKILLed worker; stopped with SIGTERM and
// resumed from its last cursor, it misses nothing and repeats nothing. On every journal.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { createClient } from "../../dist/client/index.js";
import { EVENT_PAGE } from "../../src/client/events.ts";
import type { TaskEvent } from "../../src/core/events.ts";
import { fixture } from "../helpers/fixtures.ts";
import { alive, BIN, describeOnJournals, useProject, waitFor, type Project } from "../helpers/project.ts";
import { budget, STRESS } from "../helpers/stress.ts";

const IDLE_MS = STRESS ? 61_000 : 5_000;

interface Follower {
  process: ResultPromise;
  /** The events printed so far, whole lines only. */
  events(): TaskEvent[];
  /** Waits until the events of `id` end with `kind`. */
  waitForKind(id: string, kind: TaskEvent["kind"]): Promise<void>;
}

function follow(project: Project, args: string[] = []): Follower {
  const child = execa(process.execPath, [BIN, "events", "--follow", "--json", ...args], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
  onTestFinished(() => void child.kill("SIGKILL"));
  let printed = "";
  child.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  const events = () =>
    printed
      .split("\n")
      .slice(0, -1)
      .map((line) => JSON.parse(line) as TaskEvent);
  return {
    process: child,
    events,
    waitForKind: (id, kind) =>
      waitFor(
        () => kindsOf(events(), id).at(-1) === kind,
        30_000,
        () => `task ${id} never reached ${kind}; the follower printed ${JSON.stringify(kindsOf(events(), id))} for it (exited: ${child.exitCode})`,
      ),
  };
}

const kindsOf = (events: readonly TaskEvent[], id: string) => events.filter((e) => e.taskId === id).map((e) => e.kind);

function parseLines(stdout: string): TaskEvent[] {
  const lines = stdout === "" ? [] : stdout.trimEnd().split("\n");
  return lines.map((line) => JSON.parse(line) as TaskEvent);
}

/** A gated task (fixtures/tasks/gated.ts) whose gates live in a folder of its own. */
async function runGated(project: Project, name: string, context: Record<string, unknown>): Promise<{ id: string; dir: string }> {
  const dir = join(project.dir, name);
  mkdirSync(dir);
  return { id: await project.run("gated", ["--ctx", JSON.stringify({ dir, ...context })]), dir };
}

describeOnJournals("bgtask events", (journal) => {
  it(
    "follows across an idle period and a killed worker, and resumes from its last cursor with no gap and no duplicate",
    async () => {
      const project = useProject(onTestFinished, { tasks: { "gated.ts": fixture("gated.ts"), "noop.js": fixture("noop.js") } });
      const follower = follow(project);
      // Not a wait for something: the quiet itself is what the follower must outlive.
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      expect(follower.process.exitCode, "the follower ended on an idle queue").toBeNull();
      expect(follower.events()).toEqual([]);

      const ok = await project.run("noop");
      const failing = await runGated(project, "failing", { stages: [], fail: "boom" });
      const reporting = await runGated(project, "reporting", { stages: [{ progress: 50, message: "half way" }] });
      await follower.waitForKind(reporting.id, "progress");
      writeFileSync(join(reporting.dir, "gate-0"), "");
      await Promise.all([follower.waitForKind(ok, "succeeded"), follower.waitForKind(failing.id, "failed"), follower.waitForKind(reporting.id, "succeeded")]);
      const events = follower.events();
      expect(kindsOf(events, ok)).toEqual(["enqueued", "started", "succeeded"]);
      expect(kindsOf(events, failing.id)).toEqual(["enqueued", "started", "retry-scheduled", "started", "failed"]);
      expect(kindsOf(events, reporting.id)).toEqual(["enqueued", "started", "progress", "succeeded"]);
      const byKind = (id: string, kind: string) => events.find((e) => e.taskId === id && e.kind === kind)!;
      expect(byKind(failing.id, "retry-scheduled")).toMatchObject({ executor: "gated", try: 1, status: "scheduled", error: "boom" });
      expect(Date.parse(byKind(failing.id, "retry-scheduled").nextRunAt!)).toBeGreaterThan(Date.parse(byKind(failing.id, "retry-scheduled").at));
      expect(byKind(failing.id, "failed")).toMatchObject({ try: 2, status: "failed", error: "boom" });
      expect(byKind(reporting.id, "progress")).toMatchObject({ try: 1, status: "running", progress: 50, message: "half way" });

      // A worker killed mid-try: `wait` has its try recovered, as a tick would, and starts a worker for the next.
      const killed = await runGated(project, "killed", { stages: [{ progress: 10 }] });
      const running = await project.waitForTask(killed.id, (t) => t.status === "running" && t.progress > 0);
      process.kill(running.worker!.pid, "SIGKILL");
      await waitFor(
        () => !alive(running.worker!.pid),
        10_000,
        () => `worker ${running.worker!.pid} still alive`,
      );
      writeFileSync(join(killed.dir, "gate-0"), "");
      expect((await project.cli(["wait", killed.id, "--timeout", "30s"])).code).toBe(0);
      await follower.waitForKind(killed.id, "succeeded");
      const kinds = ["enqueued", "started", "progress", "retry-scheduled", "recovered", "started", "progress", "succeeded"];
      expect(kindsOf(follower.events(), killed.id)).toEqual(kinds);
      expect(follower.events().find((e) => e.taskId === killed.id && e.kind === "recovered")).toMatchObject({ try: 1, error: expect.stringMatching(/died/) });

      // Stopped like a service (SIGTERM: exit 0), then more happens, then resumed from its last cursor.
      follower.process.kill("SIGTERM");
      expect((await follower.process).exitCode).toBe(0);
      const before = follower.events();
      const later = [await project.run("noop"), await project.run("noop")];
      for (const id of later) await project.waitForTask(id, (t) => t.status === "succeeded");
      const resumed = await project.cli(["events", "--json", "--since", before.at(-1)!.cursor]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const after = parseLines(resumed.stdout);
      for (const id of later) expect(kindsOf(after, id)).toEqual(["enqueued", "started", "succeeded"]);
      const whole = await project.cli(["events", "--json"]);
      expect(whole.code, whole.stderr).toBe(0);
      expect([...before, ...after]).toEqual(parseLines(whole.stdout));
      expect(new Set(parseLines(whole.stdout).map((e) => e.cursor)).size).toBe(before.length + after.length);
    },
    budget(120_000, 240_000),
  );

  it("hands out more than a page, across compactions of the journal's log, each event once when resumed midway", async () => {
    const TASKS = 400;
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const contexts = join(project.dir, "contexts.jsonl");
    writeFileSync(contexts, Array.from({ length: TASKS }, (_, n) => `${JSON.stringify({ n })}\n`).join(""));
    const follower = follow(project);
    const run = await project.cli(["run", "noop", "--each", contexts]);
    expect(run.code, run.stderr).toBe(0);
    const ids = run.stdout.trim().split("\n");
    await waitFor(
      () => follower.events().length >= TASKS * 1.5,
      60_000,
      () => `the follower printed ${follower.events().length} events`,
    );
    follower.process.kill("SIGTERM");
    expect((await follower.process).exitCode).toBe(0);
    const before = follower.events();
    expect((await project.cli(["wait", ...ids, "--timeout", "60s"])).code).toBe(0);
    const after = parseLines((await project.cli(["events", "--json", "--since", before.at(-1)!.cursor])).stdout);
    const whole = parseLines((await project.cli(["events", "--json"])).stdout);
    expect(whole.length).toBe(TASKS * 3);
    expect(whole.length).toBeGreaterThan(EVENT_PAGE);
    expect([...before, ...after]).toEqual(whole);
    for (const id of ids) expect(kindsOf(whole, id)).toEqual(["enqueued", "started", "succeeded"]);
    // Some of them were read from the log, the others from where a compaction archived them.
    if (journal === "file") expect(existsSync(join(project.home, "events.jsonl"))).toBe(true);
  });

  it("prints a line per event for a person, and says so on stderr when none is kept", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    expect(await project.cli(["events"])).toEqual({ code: 0, stdout: "", stderr: "(no events kept)" });
    expect(await project.cli(["events", "--json"])).toEqual({ code: 0, stdout: "", stderr: "" });
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.status === "succeeded");
    const text = await project.cli(["events"]);
    expect(text.code, text.stderr).toBe(0);
    const cursors = parseLines((await project.cli(["events", "--json"])).stdout).map((e) => e.cursor);
    const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`;
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    [`enqueued         noop #${id}  try 0`, `started          noop #${id}  try 1`, `succeeded        noop #${id}  try 1`].forEach((rest, i) => {
      expect(lines[i]).toMatch(new RegExp(`^${literal(cursors[i]!)}  ${time}  ${literal(rest)}$`));
    });
    const last = await project.cli(["events", "--since", cursors.at(-1)!]);
    expect(last).toEqual({ code: 0, stdout: "", stderr: `(no events kept after ${cursors.at(-1)})` });
  });

  it("refuses a cursor the journal did not make: one sentence, exit 2, the error object with --json", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    await project.run("noop", ["--no-worker"]);
    for (const args of [[], ["--follow"]]) {
      const text = await project.cli(["events", "--since", "not-a-cursor", ...args]);
      expect(text.code).toBe(2);
      expect(text.stdout).toBe("");
      expect(text.stderr).toMatch(/^bgtask: "not-a-cursor" is not an event cursor of .+; use one that `bgtask events --json` printed for this journal$/);
      const json = await project.cli(["events", "--json", "--since", "not-a-cursor", ...args]);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EBADCURSOR", message: expect.stringContaining('"not-a-cursor" is not an event cursor') } });
    }
  });

  it("client.events() hands out what `events --json` prints, and follows from a cursor", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const bg = createClient(project.clientFlags);
    onTestFinished(() => bg.close());
    const first = await bg.run("noop");
    await bg.wait(first.id, { timeout: "30s" });
    const read: TaskEvent[] = [];
    for await (const event of bg.events()) read.push(event);
    expect(read).toEqual(parseLines((await project.cli(["events", "--json"])).stdout));

    // Started before the task is: the feed reads, finds nothing after the cursor, and waits.
    const feed = bg.events({ since: read.at(-1)!.cursor, follow: true });
    const pending = feed.next();
    const second = await bg.run("noop");
    const followed = [(await pending).value as TaskEvent];
    for await (const event of feed) {
      followed.push(event);
      if (event.kind === "succeeded") break;
    }
    expect(followed.map((e) => [e.taskId, e.kind])).toEqual([
      [second.id, "enqueued"],
      [second.id, "started"],
      [second.id, "succeeded"],
    ]);
    await expect(bg.events({ since: "not-a-cursor" }).next()).rejects.toMatchObject({ code: "EBADCURSOR" });
  });
});

/** `text` as a regular expression that matches it alone. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
