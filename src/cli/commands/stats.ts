// `bgtask stats`: the client's overview (counts, oldest queued, throughput, live workers), as text or --json.
import { openSession } from "../../client/session.ts";
import { readStats } from "../../client/stats.ts";
import type { LocationFlags } from "../../config/config.ts";
import { printJson } from "../output/json.ts";
import { renderStats } from "../output/stats.ts";

export async function stats(options: LocationFlags & { json?: boolean }): Promise<void> {
  const result = await readStats(await openSession(options));
  if (options.json) printJson(result);
  else process.stdout.write(`${renderStats(result)}\n`);
}
