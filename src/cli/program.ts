// Commander wiring only: flags to an options object, then a lazy import of the command, so each
// command pays only for the modules it uses.
import { Command, Option } from "commander";

type Flags = Record<string, unknown>;

function withLocations(command: Command): Command {
  return command
    .option("--root <dir>", "project root (default: nearest folder with bgtask.config.json, tasks/ or package.json)")
    .option("--tasks <dir>", "tasks directory (default: <root>/tasks)")
    .option("--home <dir>", "bgtask home: journal, logs, attachments (default: <root>/.bgtask)")
    .option("--journal <location>", "journal location (default: the bgtask home)");
}

/** Command-level flags merged over the program's (global placement of --home etc. works too). */
function flags(command: Command): Flags {
  return command.optsWithGlobals();
}

export function buildProgram(version: string): Command {
  const program = new Command("bgtask")
    .description("Run background tasks from tasks/ in detached workers, durably, and watch them.")
    .version(version)
    .option("--color", "force colored output")
    .option("--no-color", "disable colored output")
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // One sentence on one line like every bgtask error (commander puts "Did you mean" on a second line).
      outputError: (text, write) => write(`bgtask: ${text.replace(/^error: /, "").trim().replace(/\s*\n\s*/g, " ")} (--help shows the usage)\n`),
    });

  withLocations(
    program
      .command("run")
      .description("store a task for <executor> and make sure a worker runs it; prints the task id")
      .argument("<executor>", "executor name: a module in tasks/, like import-users or mail/send")
      .argument("[pairs...]", "context as key=value pairs (values are JSON when they parse)")
      .option("--ctx <json>", "context as a JSON object")
      .option("--ctx-file <file>", "context from a JSON file")
      .option("--each <file>", "one task per line of JSON contexts (- for stdin), all validated first")
      .option("--delay <duration>", "run after a delay, like 10m")
      .option("--at <time>", "run at a time, like 2026-12-01T08:00")
      .option("--retry <tiers>", "retry tiers for this task, like 3x1s,5x5s")
      .option("--follow", "then watch the task and exit with its result")
      .option("--no-worker", "only store the task: a tick or a running worker takes it")
      .option("--json", "print the task record as JSON"),
  ).action(async (executor: string, pairs: string[], _o, command: Command) => {
    const { run } = await import("./commands/run.ts");
    await run(executor, pairs, flags(command));
  });

  withLocations(
    program
      .command("list")
      .description("list active tasks and the most recent finished ones")
      .option("--status <statuses>", "only these statuses, comma-separated")
      .option("--executor <name>", "only tasks of this executor")
      .option("--limit <n>", "at most n tasks (active tasks are always shown)", undefined)
      .option("--json", "print an array of task records"),
  ).action(async (_o, command: Command) => {
    const { list } = await import("./commands/list.ts");
    await list(flags(command));
  });

  withLocations(
    program.command("status").description("show one task in full").argument("<id>", "task id").option("--json", "print the task record"),
  ).action(async (id: string, _o, command: Command) => {
    const { status } = await import("./commands/status.ts");
    await status(id, flags(command));
  });

  withLocations(
    program.command("executors").description("list the executors in the tasks directory and their settings").option("--json", "print JSON"),
  ).action(async (_o, command: Command) => {
    const { executors } = await import("./commands/executors.ts");
    await executors(flags(command));
  });

  program.addOption(new Option("--debug").hideHelp().env("BGTASK_DEBUG"));
  return program;
}
