// `bgtask pause [EXECUTOR…|--all]` and `bgtask resume …`: the client's queue control, one line per
// queue; with no names, which queues are paused.
import { setQueuesPaused, type QueueTarget } from "../../client/queues.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { UsageError } from "../../errors.ts";
import { printJson } from "../output/json.ts";
import { pausedQueueLines } from "../output/text.ts";

export type PauseOptions = LocationFlags & { all?: boolean; json?: boolean };

export async function pause(names: string[], options: PauseOptions, paused: boolean): Promise<void> {
  const verb = paused ? "pause" : "resume";
  if (options.all && names.length > 0) throw new UsageError(`give executors or --all, not both (bgtask ${verb} --all ${verb}s every queue)`);
  const session = await openSession(options);
  if (!options.all && names.length === 0 && paused) {
    // Nothing named: say which queues are paused.
    const queues = await session.store.pausedQueues();
    if (options.json) printJson({ paused: queues });
    else process.stdout.write(queues.length === 0 ? "no queue is paused\n" : `${pausedQueueLines(new Set(queues)).join("\n")}\n`);
    return;
  }
  const target: QueueTarget = options.all ? { all: true } : { executors: names };
  const change = await setQueuesPaused(session, target, paused, (option) => `--${option}`);
  if (options.json) printJson(change);
  else if (change.queues.length === 0) process.stdout.write(paused ? "no executors to pause\n" : "no queue was paused\n");
  else process.stdout.write(`${change.queues.map((name) => `queue ${name} ${paused ? "is paused" : "is resumed"}`).join("\n")}\n`);
}
