// `bgtask migrate [--json]`: creates or upgrades a PostgreSQL journal's schema, which every process
// also does on first use, under an advisory lock so several starting at once migrate once.
import { migrateJournal } from "../../client/doctor.ts";
import { loadConfig, type LocationFlags } from "../../config/config.ts";
import { printJson } from "../output/json.ts";

export interface MigrateOptions extends LocationFlags {
  json?: boolean;
}

export async function migrate(options: MigrateOptions): Promise<void> {
  const config = loadConfig(options);
  const done = await migrateJournal(config);
  if (options.json) printJson(done ?? { location: config.journal, from: null, to: null });
  else if (done === null) process.stdout.write(`${config.journal} is a journal folder: it needs no migration (it upgrades itself as it is written)\n`);
  else if (done.from === done.to) process.stdout.write(`${done.location} is up to date (version ${done.to})\n`);
  else process.stdout.write(`${done.location}: migrated from version ${done.from} to ${done.to}\n`);
}
