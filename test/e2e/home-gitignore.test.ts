// The bgtask home keeps itself out of git: the first command that creates it writes a
// `.gitignore` of `*` into it, and one the user wrote is left alone.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { useProject } from "../helpers/project.ts";

describe("the bgtask home in a git repository", () => {
  it("never shows in `git status`: the home holds a .gitignore of *", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    await execa("git", ["init", "-q"], { cwd: project.dir });
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.completed);
    expect(readFileSync(join(project.home, ".gitignore"), "utf8")).toMatch(/^\*$/m);
    const status = await execa("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: project.dir });
    expect(status.stdout).not.toContain(".bgtask");
    expect(status.stdout).toContain("tasks/noop.js");
  });

  it("keeps a .gitignore the user put in the home", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    mkdirSync(project.home, { mode: 0o700 });
    writeFileSync(join(project.home, ".gitignore"), "logs/\n");
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.completed);
    expect(readFileSync(join(project.home, ".gitignore"), "utf8")).toBe("logs/\n");
  });
});
