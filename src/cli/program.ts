// Commander wiring only: flags to an options object, then a lazy import of the command, so each
// command pays only for the modules it uses.
import { resolve } from "node:path";
import { Argument, Command, Option } from "commander";
import { addExamples } from "./help-examples.ts";

type Flags = Record<string, unknown>;

/** Commander's usage error as one bgtask sentence on one line (it puts "Did you mean" on a second). */
export function usageSentence(text: string): string {
  return `${text
    .replace(/^error: /, "")
    .trim()
    .replace(/\s*\n\s*/g, " ")} (--help shows the usage)`;
}

function withLocations(command: Command): Command {
  return command
    .option("--root <dir>", "project root (default: nearest folder with bgtask.config.json, tasks/ or package.json)")
    .option("--tasks <dir>", "tasks directory (default: <root>/tasks)")
    .option("--home <dir>", "bgtask home: journal, logs, attachments (default: <root>/.bgtask)")
    .option("--journal <location>", "journal location (default: the bgtask home)")
    .option("--config <file>", "config file (default: <root>/bgtask.config.json; or BGTASK_CONFIG)");
}

/** Command-level flags merged over the program's (global placement of --home etc. works too). */
function flags(command: Command): Flags {
  const all = command.optsWithGlobals();
  // --config is BGTASK_CONFIG for this command and for the workers it starts, which get its environment.
  if (typeof all.config === "string") process.env.BGTASK_CONFIG = resolve(all.config);
  return all;
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
      outputError: (text, write) => write(`bgtask: ${usageSentence(text)}\n`),
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
      .option("--delay <duration>", "run after a delay, like 90s or 10m; the unit is required (ms, s, m, h, d, w): a bare 90 is refused")
      .option("--at <time>", "run at a time, like 2026-12-01T08:00 (local time unless it ends in Z or +01:00); one in the past runs at once, said on stderr")
      .option("--retry <tiers>", "retry tiers for this task, like 3x1s,5x5s (each interval with its unit)")
      .option("--priority <n>", "claimed before tasks of lower priority within the claim order: a whole number, higher first (default 0, or the executor's)")
      .option("--key <key>", "no second task with this executor and key while one is not final: prints that one's id instead")
      .option("--replace", "with --key: a task with the key that still waits (queued or scheduled) takes this context and run time")
      .option("--after <ids>", "run once these tasks (comma-separated ids) have succeeded; cancelled if one fails or is cancelled")
      .option("--on <host>", "pin the task to a host: only a worker on it (its `hostname`) claims it; it waits queued while that host runs none")
      .option("--follow", "then watch the task(s) like `bgtask watch` and exit with the result")
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
      .option("--limit <n>", "at most n tasks (default 50; any positive number), active ones first", undefined)
      .option("--json", "print an array of task records"),
  ).action(async (_o, command: Command) => {
    const { list } = await import("./commands/list.ts");
    await list(flags(command));
  });

  withLocations(program.command("status").description("show one task in full").argument("<id>", "task id").option("--json", "print the task record")).action(
    async (id: string, _o, command: Command) => {
      const { status } = await import("./commands/status.ts");
      await status(id, flags(command));
    },
  );

  withLocations(
    program
      .command("watch")
      .description("follow tasks live until they are final (all active tasks when no id is given)")
      .argument("[ids...]", "task ids")
      .option("--json", "print each change as one JSON record per line (NDJSON)"),
  ).action(async (ids: string[], _o, command: Command) => {
    const { watch } = await import("./commands/watch.ts");
    await watch(ids, flags(command));
  });

  withLocations(
    program
      .command("wait")
      .description("wait quietly until the tasks are final; exit 0 when all succeeded, 1 when one failed or was cancelled, 124 when the timeout came first")
      .argument("<ids...>", "task ids")
      .option("--timeout <duration>", "give up after this long, with its unit, like 10m (exit 124); the tasks keep running")
      .option("--json", "print the final task record (an array of them for several ids)"),
  ).action(async (ids: string[], _o, command: Command) => {
    const { wait } = await import("./commands/wait.ts");
    await wait(ids, flags(command));
  });

  withLocations(
    program
      .command("logs")
      .description("what a task printed and logged, every try marked")
      .argument("<id>", "task id")
      .option("--follow", "keep streaming new lines until the task is final")
      .option("--json", "print the lines as JSON (one object per line with --follow)"),
  ).action(async (id: string, _o, command: Command) => {
    const { logs } = await import("./commands/logs.ts");
    await logs(id, flags(command));
  });

  withLocations(
    program
      .command("events")
      .description("every task's transitions (enqueued, started, progress, succeeded, failed, retry-scheduled, recovered, …), oldest first, each with a cursor")
      .option("--since <cursor>", "only the events after this one: a cursor that `events --json` printed (default: from the oldest kept)")
      .option("--follow", "keep printing new events as they happen, until Ctrl-C or SIGTERM (exit 0)")
      .option("--json", "print one JSON object per event and line (NDJSON), each with its cursor"),
  ).action(async (_o, command: Command) => {
    const { events } = await import("./commands/events.ts");
    await events(flags(command));
  });

  withLocations(
    program
      .command("retry")
      .description("run finished tasks (succeeded, failed or cancelled) again as a new try; their tries keep counting")
      .argument("[ids...]", "task ids; if one cannot be retried, none is")
      .option("--failed", "retry every failed task")
      .option("--executor <name>", "with --failed: only this executor's")
      .option("--dry-run", "with --failed: list the tasks it would retry, change nothing")
      .option("--yes", "with --failed: no question at a terminal, however many tasks")
      .option("--no-worker", "only queue it: a tick or a running worker takes it")
      .option("--json", "print the task record (an array of them for several ids)"),
  ).action(async (ids: string[], _o, command: Command) => {
    const { retry } = await import("./commands/retry.ts");
    await retry(ids, flags(command));
  });

  withLocations(
    program
      .command("cancel")
      .description("cancel tasks: at once when they wait; a running one is asked to stop, then forced after the grace period")
      .argument("[ids...]", "task ids; if one has already ended, none is cancelled")
      .option("--all-queued", "cancel every task waiting to start (queued or scheduled)")
      .option("--executor <name>", "with --all-queued: only this executor's")
      .option("--dry-run", "with --all-queued: list the tasks it would cancel, change nothing")
      .option("--yes", "with --all-queued: no question at a terminal, however many tasks")
      .option("--no-wait", "only ask a running task to stop; do not wait for it")
      .option("--json", "print the task record (an array of them for several ids)"),
  ).action(async (ids: string[], _o, command: Command) => {
    const { cancel } = await import("./commands/cancel.ts");
    await cancel(ids, flags(command));
  });

  for (const [name, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    withLocations(
      program
        .command(name)
        .description(
          paused
            ? "pause executors' queues: no worker, tick or host claims their tasks until resumed; running tries finish (no names: list the paused queues)"
            : "resume paused queues: their tasks are claimed again",
        )
        .argument("[executors...]", "executor names")
        .option("--all", paused ? "every executor in the tasks directory" : "every paused queue")
        .option("--json", "print the queues named and the paused ones after"),
    ).action(async (executors: string[], _o, command: Command) => {
      const { pause } = await import("./commands/pause.ts");
      await pause(executors, flags(command), paused);
    });
  }

  withLocations(
    program
      .command("tick")
      .description("for cron: recover, promote, prune and run due work within a time budget; one tick at a time")
      .option(
        "--max-time <duration>",
        "time budget, with its unit, like 55s (default 55s): a task without a timeout is stopped at its end; one whose timeout outlasts it is left to a worker",
      ),
  ).action(async (_o, command: Command) => {
    const { tick } = await import("./commands/tick.ts");
    await tick(flags(command));
  });

  withLocations(
    program
      .command("schedules")
      .description("list the schedules of bgtask.config.json: their last slot fired (and its task) and their next run")
      .option("--json", "print JSON"),
  ).action(async (_o, command: Command) => {
    const { schedules } = await import("./commands/schedules.ts");
    await schedules(flags(command));
  });

  withLocations(
    program
      .command("work")
      .description("run workers in the foreground, their output on this terminal, until stopped (SIGTERM, Ctrl-C): for debugging, containers and systemd")
      .option("--concurrency <n>", "how many tasks at once, shared between the workers (default: the config's concurrency)")
      .option("--workers <n>", "how many worker processes (default: the config's workers: 2, or concurrency if less)")
      .option("--once", "drain what is due, then exit 0")
      .option("--executor <names...>", "claim only tasks of these executors (repeat it, or separate names with commas)"),
  ).action(async (_o, command: Command) => {
    const { work } = await import("./commands/work.ts");
    await work(flags(command));
  });

  withLocations(
    program
      .command("remove")
      .description("delete tasks with their logs and attachments (a running task must be cancelled first)")
      .argument("[ids...]", "task ids")
      .option("--finished", "remove finished tasks (succeeded, failed, cancelled)")
      .option("--older-than <duration>", "with --finished: only those that finished longer ago than this, like 7d (with its unit); list's ENDED column")
      .option("--executor <name>", "with --finished: only this executor's")
      .option("--dry-run", "with --finished: list the tasks it would remove, change nothing")
      .option("--yes", "with --finished: no question at a terminal, however many tasks")
      .option("--json", "print the removed ids"),
  ).action(async (ids: string[], _o, command: Command) => {
    const { remove } = await import("./commands/remove.ts");
    await remove(ids, flags(command));
  });

  withLocations(
    program
      .command("executors")
      .description("list the executors in the tasks directory and their settings; exit 1 when a module cannot be used")
      .option("--json", "print JSON"),
  ).action(async (_o, command: Command) => {
    const { executors } = await import("./commands/executors.ts");
    await executors(flags(command));
  });

  withLocations(
    program
      .command("doctor")
      .description("check the journal file by file (exit 3 when damaged); --repair rebuilds it from what is readable")
      .option("--repair", "keep a copy of the journal files, then rebuild it; exit 1 when something could not be recovered")
      .option("--dry-run", "with --repair: only check, and say what the repair would do")
      .option("--json", "print the report as JSON"),
  ).action(async (_o, command: Command) => {
    const { doctor } = await import("./commands/doctor.ts");
    await doctor(flags(command));
  });

  withLocations(
    program
      .command("migrate")
      .description("create or upgrade a PostgreSQL journal's schema (it also happens on first use); a journal folder needs none")
      .option("--json", "print what was done as JSON"),
  ).action(async (_o, command: Command) => {
    const { migrate } = await import("./commands/migrate.ts");
    await migrate(flags(command));
  });

  withLocations(
    program
      .command("stats")
      .description("counts by status and executor, the oldest queued task's age, the last 15 minutes' throughput, live workers")
      .option("--json", "print JSON")
      .addOption(
        new Option("--format <format>", "text (default), json (as --json), or prometheus: what a scrape of `bgtask metrics` gets").choices([
          "text",
          "json",
          "prometheus",
        ]),
      ),
  ).action(async (_o, command: Command) => {
    const { stats } = await import("./commands/stats.ts");
    await stats(flags(command));
  });

  withLocations(
    program
      .command("metrics")
      .description("serve /metrics for Prometheus until Ctrl-C: the journal's counters, gauges and histograms; prints its URL")
      .option("--port <port>", "port to listen on (default 4301; 0 picks a free one)")
      .option(
        "--host <address>",
        "address to bind (default 127.0.0.1, the loopback; any other needs a metrics token: metrics.tokenFile in bgtask.config.json, or BGTASK_METRICS_TOKEN)",
      ),
  ).action(async (_o, command: Command) => {
    const { metrics } = await import("./commands/metrics.ts");
    await metrics(flags(command));
  });

  withLocations(program.command("workers").description("the workers: host, pid, the task each runs, last heartbeat").option("--json", "print JSON")).action(
    async (_o, command: Command) => {
      const { workers } = await import("./commands/workers.ts");
      await workers(flags(command));
    },
  );

  const journal = program.command("journal").description("work on whole journals");
  journal
    .command("copy")
    .description(
      "copy every task with its history, log and attachments (and paused queues, schedule states) into another journal; refused while workers use either",
    )
    .option("--from <journal>", "the journal to copy: a folder or a postgres:// URL (?schema= for another schema)")
    .option("--to <journal>", "the journal to copy into: one without any of the source's task ids")
    .option("--root <dir>", "project root: relative folders are its (default: nearest folder with bgtask.config.json, tasks/ or package.json)")
    .option("--home <dir>", "bgtask home: where the project's journal folder keeps logs and attachments (default: <root>/.bgtask)")
    .option("--json", "print what was copied as JSON")
    .action(async (_o, command: Command) => {
      const { journalCopy } = await import("./commands/journal.ts");
      await journalCopy(flags(command));
    });

  const attachment = program.command("attachment").description("read tasks' attachments");
  withLocations(
    attachment
      .command("get")
      .description("write a task's attachment to stdout (not to a terminal) or to --output FILE")
      .argument("<id>", "task id")
      .argument("<name>", "attachment name, as `bgtask status <id>` lists them")
      .option("--output <file>", "write it to this file instead of stdout"),
  ).action(async (id: string, name: string, _o, command: Command) => {
    const { attachmentGet } = await import("./commands/attachment.ts");
    await attachmentGet(id, name, flags(command));
  });

  withLocations(
    program
      .command("ui")
      .description("serve the dashboard on this machine until Ctrl-C; prints its URL with an access token")
      .option("--port <port>", "port to listen on (default 4300; 0 picks a free one)")
      .option("--host <address>", "address to bind (default 127.0.0.1, the loopback; any other is reachable from the network)")
      .option("--open", "open the URL in the browser (xdg-open, open, or the Windows URL handler); a failure is a warning"),
  ).action(async (_o, command: Command) => {
    const { ui } = await import("./commands/ui.ts");
    await ui(flags(command));
  });

  program
    .command("completion")
    .description("print the shell completion script for bash, zsh or fish")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .action(async (shell: string) => {
      const { completion } = await import("./commands/completion.ts");
      completion(shell);
    });

  // What the completion script runs at each Tab: `bgtask complete -- <words so far>`.
  program
    .command("complete", { hidden: true })
    .argument("[words...]")
    .action(async (words: string[]) => {
      const { complete } = await import("./commands/completion.ts");
      complete(program, words);
    });

  addExamples(program);
  program.addOption(new Option("--debug").hideHelp().env("BGTASK_DEBUG"));
  return program;
}
