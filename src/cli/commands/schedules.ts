// `bgtask schedules [--json]`: the config's schedules, their last slot fired and their next.
import { listSchedules } from "../../client/schedules.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { printJson } from "../output/json.ts";
import { renderSchedules } from "../output/schedules.ts";

export async function schedules(options: LocationFlags & { json?: boolean }): Promise<void> {
  const session = await openSession(options);
  try {
    const now = new Date();
    const entries = await listSchedules(session, now);
    if (options.json) printJson(entries);
    else process.stdout.write(`${renderSchedules(entries, now)}\n`);
  } finally {
    await session.store.close();
  }
}
