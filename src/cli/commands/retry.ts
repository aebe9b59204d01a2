// `bgtask retry <id …>`: the client's retry of final tasks (a new try each; their tries keep
// counting), or none when one cannot be retried (exit 2 with the reason).
import { retryTasks } from "../../client/control.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { publicRecord } from "../../core/task.ts";
import { printJson } from "../output/json.ts";

export async function retry(ids: string[], options: LocationFlags & { json?: boolean; worker?: boolean }): Promise<void> {
  const retried = await retryTasks(await openSession(options), ids, { worker: options.worker });
  if (options.json) printJson(ids.length === 1 ? publicRecord(retried[0]!) : retried.map(publicRecord));
  else process.stdout.write(`${retried.map((t) => t.id).join("\n")}\n`);
}
