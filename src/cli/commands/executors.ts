// `bgtask executors`: what the tasks directory holds, the settings each executor's tasks get, and
// a clear line for every module that cannot be used. It exits 1 when one cannot, so a CI job can
// run it as a check.
import { describeExecutors } from "../../client/executors.ts";
import { loadConfig, type LocationFlags } from "../../config/config.ts";
import { ExitCode } from "../../errors.ts";
import { loadColumnsFor } from "../output/columns.ts";
import { renderExecutors } from "../output/executors.ts";
import { printJson } from "../output/json.ts";
import { sanitizeInline } from "../output/sanitize.ts";

export async function executors(options: LocationFlags & { json?: boolean }): Promise<void> {
  const config = loadConfig(options);
  const entries = await describeExecutors(config);
  if (options.json) printJson({ tasksDir: config.tasksDir, executors: entries });
  else {
    await loadColumnsFor(JSON.stringify(entries), config.root);
    process.stdout.write(`${renderExecutors(entries, config)}\n`);
  }
  const broken = entries.filter((e) => !e.ok).length;
  if (broken > 0) {
    process.exitCode = ExitCode.problemFound;
    process.stderr.write(`bgtask: ${broken} of ${entries.length} modules in ${sanitizeInline(config.tasksDir)} cannot be used as executors\n`);
  }
}
