// What a user finds at the terminal before reading the README: examples at the end of every
// command's --help, and shell completion (`bgtask completion bash|zsh|fish`) that completes
// commands, flags and, for `run`, the project's executors.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { buildProgram } from "../../src/cli/program.ts";
import { fixture } from "../helpers/fixtures.ts";
import { BIN, useProject } from "../helpers/project.ts";

const COMMANDS = buildProgram("0.0.0")
  .commands.filter((command) => command.name() !== "complete")
  .map((command) => command.name());

describe("--help of each command", () => {
  it("ends with examples of that command", async () => {
    const project = useProject(onTestFinished);
    expect(COMMANDS).toEqual(expect.arrayContaining(["run", "list", "status", "watch", "executors", "completion"]));
    for (const name of COMMANDS) {
      const help = await project.cli([name, "--help"]);
      expect(help.code, name).toBe(0);
      const examples = help.stdout.split("\nExamples:\n")[1];
      expect(examples, `${name} --help has no examples`).toBeDefined();
      const lines = examples!.trimEnd().split("\n");
      expect(lines.length, name).toBeGreaterThanOrEqual(2);
      for (const line of lines) expect(line, name).toMatch(new RegExp(`^  \\$ bgtask ${name}( |$)`));
    }
  });
});

describe("shell completion", () => {
  const complete = async (project: ReturnType<typeof useProject>, words: string[]) => {
    const result = await project.cli(["complete", "--", ...words]);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.split("\n").map((line) => line.split("\t")[0]!);
  };

  it("completes commands, flags and the project's executors", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "mail/send.js": fixture("noop.js"), "_lib/x.js": "" } });
    const commands = await complete(project, [""]);
    expect(commands).toEqual(expect.arrayContaining([...COMMANDS, ":4"]));
    expect(commands).not.toContain("complete");
    expect(await complete(project, ["sta"])).toEqual(["status", "stats", ":4"]);
    expect(await complete(project, ["run", ""])).toEqual(["mail/send", "noop", ":4"]);
    expect(await complete(project, ["run", "noop", "--fo"])).toEqual(["--follow", ":4"]);
  });

  it("prints a script for bash, zsh and fish; bash loads it and completes with it", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    for (const shell of ["bash", "zsh", "fish"]) {
      const script = await project.cli(["completion", shell]);
      expect(script.code, shell).toBe(0);
      expect(script.stdout, shell).toContain("bgtask complete --");
    }
    const refused = await project.cli(["completion", "tcsh"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/'tcsh' is invalid .* Allowed choices are bash, zsh, fish/);

    // `bgtask` on PATH, as an install puts it; _get_comp_words_by_ref is bash-completion's, which
    // interactive shells load (this machine has none), reduced to what the script asks of it.
    const bin = join(project.dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "bgtask"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, "bgtask"), 0o755);
    const bash = [
      '_get_comp_words_by_ref() { cur="${COMP_WORDS[COMP_CWORD]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }',
      'eval "$(bgtask completion bash)"',
      'COMP_WORDS=(bgtask ru); COMP_CWORD=1; __bgtask_complete; echo "commands: ${COMPREPLY[*]}"',
      'COMP_WORDS=(bgtask run n); COMP_CWORD=2; __bgtask_complete; echo "executors: ${COMPREPLY[*]}"',
    ].join("\n");
    const result = await execa("bash", ["-c", bash], { cwd: project.dir, env: { ...project.env, PATH: `${bin}:${process.env.PATH}` }, reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("commands: run\nexecutors: noop");
  });
});
