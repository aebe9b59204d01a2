// `bgtask workers`: every worker slot with its host, pid, task and last heartbeat, as text or --json.
import { openSession } from "../../client/session.ts";
import { listWorkers } from "../../client/workers.ts";
import type { LocationFlags } from "../../config/config.ts";
import { printJson } from "../output/json.ts";
import { renderWorkers } from "../output/stats.ts";

export async function workers(options: LocationFlags & { json?: boolean }): Promise<void> {
  const result = await listWorkers(await openSession(options));
  if (options.json) printJson(result);
  else process.stdout.write(`${renderWorkers(result, new Date())}\n`);
}
