// Runs one hook command through execa, in its own bundle (dist/worker/hook-command.js): execa is
// a third of a megabyte that the worker and CLI bundles would otherwise parse on every start, for
// projects that mostly set no hooks.
import { execa } from "execa";

export interface HookCommandResult {
  /** Why it failed, in words, or null when it exited 0. */
  failure: string | null;
}

export async function runHookCommand(command: readonly string[], input: string, cwd: string, timeoutMs: number): Promise<HookCommandResult> {
  const [file, ...args] = command as [string, ...string[]];
  const result = await execa(file, args, {
    input,
    cwd,
    timeout: timeoutMs,
    forceKillAfterDelay: 2_000,
    stdout: "inherit",
    stderr: "inherit",
    reject: false,
  });
  if (!result.failed) return { failure: null };
  if (result.timedOut) return { failure: "timed out" };
  if (result.exitCode !== undefined) return { failure: `it exited with code ${result.exitCode}` };
  return { failure: result.shortMessage ?? "it failed" };
}
