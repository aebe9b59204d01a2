// `bgtask stats`: the client's overview (counts, oldest queued, throughput, live workers), as text
// or --json; or, with --format prometheus, what a scrape of `/metrics` gets.
import { prometheusText, readMetrics } from "../../client/metrics.ts";
import { openSession } from "../../client/session.ts";
import { readStats } from "../../client/stats.ts";
import type { LocationFlags } from "../../config/config.ts";
import { UsageError } from "../../errors.ts";
import { printJson } from "../output/json.ts";
import { renderStats } from "../output/stats.ts";

export interface StatsOptions extends LocationFlags {
  json?: boolean;
  /** Checked by commander (program.ts). */
  format?: "text" | "json" | "prometheus";
}

export async function stats(options: StatsOptions): Promise<void> {
  if (options.json && options.format !== undefined && options.format !== "json")
    throw new UsageError(`--json and --format ${options.format} ask for two formats; give one`);
  const format = options.json ? "json" : (options.format ?? "text");
  const session = await openSession(options);
  if (format === "prometheus") process.stdout.write(prometheusText(await readMetrics(session)));
  else if (format === "json") printJson(await readStats(session));
  else process.stdout.write(`${renderStats(await readStats(session))}\n`);
}
