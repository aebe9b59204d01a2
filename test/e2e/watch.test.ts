// `watch` and `run --follow`: a live view in a real pseudo-terminal, plain lines through a pipe,
// NDJSON with --json; exit 0 / 1 by result, 130 on Ctrl-C with the tasks left running.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { spinners } from "ora";
import { expect, it, onTestFinished } from "vitest";
import { describeOnJournals, BIN, useProject, type Project } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";
import { hasScript, runInPty } from "../helpers/pty.ts";

const open = (project: Project, gate: number) => writeFileSync(join(project.dir, `gate-${gate}`), "");
const SPINNER_FRAMES = spinners.dots.frames;
// eslint-disable-next-line no-control-regex
const CURSOR_VISIBILITY = /\u001b\[\?25([hl])/g;

function gatedProject() {
  return useProject(onTestFinished, {
    tasks: {
      "gated.ts": fixture("gated.ts"),
      "boom.js": `import { defineTask } from "bgtask";
        export default defineTask({ async run(task) { await task.progress(50, "half way"); throw new Error("boom"); } });`,
    },
    env: { BGTASK_REPORT_INTERVAL: "50ms" },
  });
}

const twoStages = (project: Project) => [
  "--ctx",
  JSON.stringify({
    dir: project.dir,
    stages: [
      { progress: 25, message: "a quarter" },
      { progress: 75, message: "three quarters" },
    ],
  }),
];

/** The percents shown next to a progress bar, in the order the terminal received them. */
function barPercents(output: string): number[] {
  return [...output.matchAll(/[█░]{20}\s+(\d+)%/g)].map((m) => Number(m[1]));
}

describeOnJournals("watch in a terminal", () => {
  it("needs util-linux `script` for a pseudo-terminal", () => {
    expect(hasScript()).toBe(true);
  });

  it("shows a bar that advances, never clears the screen, and exits 0 when the task succeeds", async () => {
    const project = gatedProject();
    const id = await project.run("gated", twoStages(project));
    const pty = runInPty(project, ["watch", id], onTestFinished);
    await pty.waitForOutput(/░+\s+25%/);
    open(project, 0);
    await pty.waitForOutput(/░+\s+75%/);
    open(project, 1);
    expect(await pty.exited).toBe(0);

    const output = pty.output();
    const percents = barPercents(output);
    expect(percents).toContain(25);
    expect(percents).toContain(75);
    expect(percents.indexOf(75)).toBeGreaterThan(percents.indexOf(25));
    expect(output).toMatch(/⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏/);
    expect(output).toMatch(/queued \d+ · scheduled \d+ · running 1 · done 0 · failed 0/);
    expect(output).toMatch(new RegExp(`✔ ${id} gated succeeded in \\d+\\w*: done`));
    // Redrawn in place: no clear-screen, and the cursor is visible again at the end.
    expect(output).not.toContain("\u001b[2J");
    expect([...output.matchAll(CURSOR_VISIBILITY)].at(-1)?.[1]).toBe("h");
  });

  it("`run --follow` prints the id first and exits 1 when the task fails", async () => {
    const project = gatedProject();
    const pty = runInPty(project, ["run", "boom", "--follow"], onTestFinished);
    expect(await pty.exited).toBe(1);
    const output = pty.output();
    expect(output).toMatch(/^1\r?\n/);
    expect(output).toMatch(/✖ 1 boom failed in \d+\w*: boom/);
  });

  it("Ctrl-C stops watching with exit 130, restores the cursor and leaves the task running", async () => {
    const project = gatedProject();
    const id = await project.run("gated", twoStages(project));
    const pty = runInPty(project, ["watch", id], onTestFinished);
    await pty.waitForOutput(/░+\s+25%/);
    pty.type("\u0003");
    expect(await pty.exited).toBe(130);
    const output = pty.output();
    expect([...output.matchAll(CURSOR_VISIBILITY)].at(-1)?.[1]).toBe("h");
    expect(output).toContain("stopped watching; the tasks keep running");

    const still = await project.status(id);
    expect(still.status).toBe("running");
    expect(project.workers()).toContain(still.worker!.pid);
    open(project, 0);
    open(project, 1);
    expect((await project.waitForTask(id, (t) => t.completed)).status).toBe("succeeded");
  });
});

describeOnJournals("watch without a terminal", () => {
  it("prints one plain line per change through a pipe: no carriage return, no spinner frame, no cursor code", async () => {
    const project = gatedProject();
    const id = await project.run("gated", twoStages(project));
    // No CI variable: only the pipe tells it there is no terminal.
    const child = startCli(project, ["watch", id], { CI: undefined });
    const seen = child.seen;
    await project.waitForTask(id, (t) => t.progress === 25);
    await waitForText(seen, "running 25% a quarter");
    open(project, 0);
    await waitForText(seen, "running 75% three quarters");
    open(project, 1);
    const result = await child.result;
    expect(result.exitCode).toBe(0);
    const all = `${result.stdout}\n${result.stderr}`;
    expect(all).not.toContain("\r");
    expect(all).not.toContain("\u001b");
    for (const frame of SPINNER_FRAMES) expect(all).not.toContain(frame);
    const lines = String(result.stdout).trim().split("\n");
    expect(lines).toContain(`${id} gated running 25% a quarter`);
    expect(lines).toContain(`${id} gated running 75% three quarters`);
    expect(lines).toContain(`${id} gated succeeded 100% done`);
    expect(lines.at(-1)).toMatch(new RegExp(`^✔ ${id} gated succeeded in \\d+\\w*: done$`));
    // One line per change: never the same line twice in a row.
    for (const [i, line] of lines.entries()) expect(line).not.toBe(lines[i - 1]);
  });

  it("with no id watches every active task until all are final, exit 1 when one failed; --json streams NDJSON", async () => {
    const project = gatedProject();
    const stage = { progress: 10, message: "waiting at the gate" };
    const good = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [stage] })]);
    const bad = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [stage], fail: "broken" })]);
    await project.waitForTask(good, (t) => t.progress === 10);
    await project.waitForTask(bad, (t) => t.progress === 10);
    const watching = startCli(project, ["watch", "--json"]);
    await waitForText(watching.seen, `"id":"${bad}"`);
    await waitForText(watching.seen, `"id":"${good}"`);
    open(project, 0);
    const result = await watching.result;
    expect(result.exitCode).toBe(1);
    const records = String(result.stdout)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { id: string; status: string; tries: number });
    const last = (id: string) => records.filter((r) => r.id === id).at(-1);
    expect(last(good)?.status).toBe("succeeded");
    // The failing task was watched through its retry until it failed for good.
    expect(last(bad)).toMatchObject({ status: "failed", tries: 2 });

    const plain = await project.cli(["watch", good]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`✔ ${good} gated succeeded`));
    const none = await project.cli(["watch"]);
    expect(none).toMatchObject({ code: 0, stdout: "" });
    expect(none.stderr).toContain("no active tasks");
  });

  it("refuses a bad or unknown id with exit 2", async () => {
    const project = gatedProject();
    expect((await project.cli(["watch", "../x"])).code).toBe(2);
    expect((await project.cli(["watch", "42"])).code).toBe(2);
  });
});

/** Starts the CLI with its stdout read as it comes. `undefined` in `env` removes a variable. */
function startCli(project: Project, args: string[], env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string | undefined> = { ...process.env, ...project.env, ...env };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  const result = execa(process.execPath, [BIN, ...args], { cwd: project.dir, env: merged, extendEnv: false, reject: false, stdin: "ignore" });
  let seen = "";
  result.stdout!.on("data", (chunk: Buffer) => (seen += chunk.toString()));
  return { result, seen: () => seen };
}

async function waitForText(text: () => string, wanted: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!text().includes(wanted)) {
    if (Date.now() > deadline) throw new Error(`never saw ${JSON.stringify(wanted)} in ${JSON.stringify(text())}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
