// Runs the built CLI in a real pseudo-terminal through util-linux `script` (always present on
// Linux, so CI needs nothing installed): stdout and stderr are a TTY, the terminal has a size,
// and what is typed (Ctrl-C = "\x03") reaches the program through the terminal's line discipline.
import { spawn, spawnSync } from "node:child_process";
import { BIN, waitFor, type Project } from "./project.ts";

export interface PtyRun {
  /** Everything the terminal received so far, raw (escape codes and all). */
  output(): string;
  /** Types into the terminal. */
  type(text: string): void;
  /** Resolves with the program's exit code. */
  exited: Promise<number>;
  /** Waits until the output matches. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function hasScript(): boolean {
  return spawnSync("script", ["--version"]).status === 0;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export function runInPty(project: Project, args: string[], onFinished: (fn: () => void) => void, size = { cols: 120, rows: 30 }): PtyRun {
  const command = `stty cols ${size.cols} rows ${size.rows}; exec ${[process.execPath, BIN, ...args].map(quote).join(" ")}`;
  // A person at a terminal: no CI variable (it turns live output off), a real TERM.
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...project.env, TERM: "xterm-256color", BGTASK_ROOT: project.dir };
  delete env.CI;
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: project.dir, env, stdio: ["pipe", "pipe", "pipe"] });
  onFinished(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  return {
    output: () => output,
    type: (text) => child.stdin.write(text),
    exited,
    waitForOutput: (pattern, timeoutMs = 30_000) =>
      waitFor(
        () => pattern.test(output),
        timeoutMs,
        () => `terminal never showed ${pattern}; it shows: ${JSON.stringify(output.slice(-2000))}`,
      ),
  };
}
