// The "Examples:" that end each command's --help: a few invocations a user can copy, docs/commands.md's
// in short. Kept apart from the wiring in program.ts, which appends them to every command.
import type { Command } from "commander";

const EXAMPLES: Record<string, string[]> = {
  run: [
    "bgtask run import-users file=users.csv batch=500   # values are JSON when they parse",
    "bgtask run import-users --ctx-file job.json --follow",
    "bgtask run mail/send --each contexts.jsonl",
    "bgtask run report --delay 10m --retry 3x1s,5x5s",
    "bgtask run report --key nightly --replace kind=daily   # one waiting report at most",
    "bgtask run publish --after 41,42 --priority 5",
    "bgtask run backup --on db-01   # only a worker on host db-01 claims it",
  ],
  list: ["bgtask list", "bgtask list --status failed,cancelled --executor mail/send", "bgtask list --json --limit 500 | jq '.[].id'"],
  status: ["bgtask status 42", "bgtask status 42 --json | jq .error"],
  watch: ["bgtask watch              # every active task, until none is left", "bgtask watch 42 43", "bgtask watch --json"],
  wait: ["bgtask wait 42 43", "bgtask wait 42 --timeout 10m && echo done   # exit 124 when the timeout comes first"],
  logs: ["bgtask logs 42", "bgtask logs 42 --follow"],
  events: [
    "bgtask events --follow                 # every transition as it happens, until Ctrl-C",
    "bgtask events --json | tail -1 | jq -r .cursor > cursor   # where the feed is now",
    'bgtask events --json --since "$(cat cursor)"   # only what came after it',
  ],
  retry: ["bgtask retry 42 43", "bgtask retry 42 --no-worker", "bgtask retry --failed --executor mail/send"],
  cancel: ["bgtask cancel 42 43", "bgtask cancel 42 --no-wait", "bgtask cancel --all-queued --executor import-users"],
  pause: ["bgtask pause import-users", "bgtask pause --all", "bgtask pause   # which queues are paused"],
  resume: ["bgtask resume import-users", "bgtask resume --all"],
  tick: ["bgtask tick --max-time 55s", "bgtask tick --max-time 55s --root /srv/app   # from cron, every minute"],
  remove: ["bgtask remove 41 42", "bgtask remove --finished --older-than 7d"],
  executors: ["bgtask executors", "bgtask executors --json   # exits 1 when a module cannot be used"],
  doctor: ["bgtask doctor", "bgtask doctor --repair"],
  migrate: [
    "bgtask migrate --journal postgres://bgtask@db.internal:5432/app",
    "bgtask migrate --journal 'postgres://bgtask@db.internal/app?schema=jobs' --json",
  ],
  stats: ["bgtask stats", "bgtask stats --json | jq .byStatus", "bgtask stats --format prometheus | promtool check metrics"],
  metrics: [
    "bgtask metrics --port 9464   # http://127.0.0.1:9464/metrics, for a Prometheus on this host",
    "bgtask metrics --host 0.0.0.0   # needs a token: metrics.tokenFile in bgtask.config.json",
  ],
  workers: ["bgtask workers", "bgtask workers --json"],
  attachment: ["bgtask attachment get 42 report.csv --output report.csv", "bgtask attachment get 42 report.csv | wc -c"],
  journal: [
    "bgtask journal copy --from .bgtask --to postgres://bgtask@db.internal:5432/app",
    "bgtask journal copy --from 'postgres://bgtask@db.internal/app?schema=old' --to 'postgres://bgtask@db.internal/app?schema=new' --json",
  ],
  ui: ["bgtask ui", "bgtask ui --port 0 --open", "bgtask ui --host 0.0.0.0   # reachable from the network: mind who can reach it"],
  schedules: ["bgtask schedules", "bgtask schedules --json | jq '.[] | {name, last, nextRunAt}'"],
  work: [
    "bgtask work                          # the config's concurrency, until SIGTERM or Ctrl-C",
    "bgtask work --concurrency 4 --executor mail/send",
    "bgtask work --once                   # drain what is due, then exit 0",
  ],
  completion: [
    "bgtask completion bash > ~/.local/share/bash-completion/completions/bgtask",
    'bgtask completion zsh > "${fpath[1]}/_bgtask"',
    "bgtask completion fish > ~/.config/fish/completions/bgtask.fish",
  ],
};

/** Where `bgtask --help` sends a reader for more: the page with a section per command (a unit test checks the link resolves). */
export const DOCS_URL = "https://github.com/bgtask/bgtask/blob/main/docs/commands.md";

/** Appends its examples to the --help of every command of `program` that has some, and the docs link to the top-level help. */
export function addExamples(program: Command): void {
  for (const command of program.commands) {
    const examples = EXAMPLES[command.name()];
    if (examples) command.addHelpText("after", `\nExamples:\n${examples.map((line) => `  $ ${line}`).join("\n")}\n`);
  }
  program.addHelpText("after", `\nEvery command in full: ${DOCS_URL}\n`);
}
