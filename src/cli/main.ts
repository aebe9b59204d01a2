// The CLI entry: build the program, run it, and render every error in one place with the exit
// code the contract gives it. Commands throw; only this file decides what reaches the terminal.
import { readFileSync } from "node:fs";
import { CommanderError } from "commander";
import { closeSessions } from "../client/session.ts";
import { BgtaskError, ExitCode } from "../errors.ts";
import { decideOutput } from "./output/color.ts";
import { toJson } from "./output/json.ts";
import { sanitizeInline } from "./output/sanitize.ts";
import { buildProgram, usageSentence } from "./program.ts";

const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string; homepage: string };

/** What a bare `bgtask` prints: the few commands a newcomer needs, on one screen; --help has them all. */
function shortHelp(): string {
  return `bgtask ${manifest.version}: background tasks for Node.js, run from tasks/ by detached workers

Usage: bgtask <command> [options]

  bgtask run hello --follow            run tasks/hello.ts in a worker, follow it to the end
  bgtask run import-users file=a.csv   store a task, print its id, return at once
  bgtask list                          the tasks: status, progress, message
  bgtask status 1                      one task in full (bgtask logs 1: its log)
  bgtask watch                         what runs, live
  bgtask retry --failed --dry-run      what would be retried; nothing changes
  bgtask work                          workers in the foreground: containers, systemd
  bgtask ui                            the dashboard in a browser

bgtask --help lists every command, bgtask <command> --help its options.
Docs: ${manifest.homepage}
`;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes("--json");
}

/** A script that asked for --json gets its error as JSON too, whatever went wrong and where. */
function printJsonError(argv: readonly string[], code: string, message: string): void {
  if (wantsJson(argv)) process.stdout.write(`${toJson({ error: { code, message } })}\n`);
}

function render(error: unknown, argv: readonly string[]): number {
  const debug = process.env.BGTASK_DEBUG === "1";
  if (error instanceof CommanderError) {
    // Help and --version end with code 0; every usage error is exit 2, as the contract says.
    if (error.exitCode === 0 || error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
    // Commander has already said it on stderr (configureOutput in program.ts), or printed the
    // usage for want of a command, whose error message is only "(outputHelp)".
    printJsonError(argv, "EUSAGE", error.code === "commander.help" ? "no command to run; `bgtask --help` lists the commands" : usageSentence(error.message));
    return ExitCode.usage;
  }
  if (error instanceof BgtaskError) {
    printJsonError(argv, error.code, error.message);
    // Messages quote untrusted text (file contents, names, arguments): never raw onto the terminal.
    process.stderr.write(`bgtask: ${sanitizeInline(error.message)}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  printJsonError(argv, "EINTERNAL", `internal error, please report it with the command you ran: ${error instanceof Error ? error.message : String(error)}`);
  process.stderr.write(`bgtask: internal error, please report it with the command you ran:\n${stack}\n`);
  return 1;
}

async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  decideOutput({ json: wantsJson(args), color: args.includes("--no-color") ? false : args.includes("--color") ? true : undefined });
  // A reader of our stdout that goes away (`| head -1`) is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  if (args.length === 0) {
    // No command is a usage error (exit 2), said with a screen of help instead of all of it.
    process.stderr.write(shortHelp());
    process.exitCode = ExitCode.usage;
    return;
  }
  try {
    await buildProgram(manifest.version).parseAsync(argv);
  } catch (error) {
    process.exitCode = render(error, args);
  } finally {
    await closeSessions().catch((error: unknown) => {
      process.exitCode = render(error, args);
    });
  }
}

// Not a top-level await: the CLI ships as a CommonJS bundle (scripts/bundle.mjs), which has none.
void main(process.argv);
