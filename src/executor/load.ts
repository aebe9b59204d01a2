// Imports an executor module and checks what it exports. JavaScript goes through import();
// TypeScript through jiti, imported only when a .ts file is loaded: it is costly to import
// (docs/README-performance.md).
import { pathToFileURL } from "node:url";
import { nativeImport } from "../host/native-import.ts";
import { UsageError } from "../errors.ts";
import { tryParseDuration } from "../core/duration.ts";
import { normaliseRetry, RetryPolicyError } from "../core/retry-policy.ts";
import { ISOLATIONS, type RetryPolicy } from "../core/task.ts";
import { transpileCache } from "../host/home.ts";
import { isDefinition, type BrandedDefinition } from "./definition.ts";
import type { ExecutorFile } from "./discover.ts";
import { explainLoadFailure, withoutModuleTypeWarning } from "./load-failure.ts";

export interface LoadedExecutor extends ExecutorFile {
  definition: BrandedDefinition;
  /** The definition's own retry policy, or null to use the config's. */
  retry: RetryPolicy | null;
  timeoutMs: number | null;
  sliceMs: number;
  /** The definition's priority and concurrency, or null when it sets none. */
  priority: number | null;
  concurrency: number | null;
  /** The serial key for a context, or null when tasks of this executor may run side by side. */
  serialKeyOf(context: Record<string, unknown>): string | null;
}

export class ExecutorLoadError extends UsageError {
  constructor(name: string, file: string, reason: string, options?: ErrorOptions) {
    super(`executor "${name}" (${file}) cannot be used: ${reason}`, { ...options, code: "EEXECUTORLOAD" });
  }
}

const DEFAULT_SLICE_MS = 30_000;

async function importModule(file: string, home: string | null): Promise<unknown> {
  if (/\.m?ts$/.test(file)) {
    const { createJiti } = (await nativeImport("jiti")) as typeof import("jiti");
    // Without a home yet (a first `run` that may still be refused) nothing is cached.
    const cache = home === null ? null : transpileCache(home);
    cache?.prepare();
    const jiti = createJiti(import.meta.url, { fsCache: cache?.dir ?? false, moduleCache: true, interopDefault: true });
    // jiti's `{ default: true }` hands back the whole module when it has no default export,
    // which would hide "no default export" behind "not made with defineTask".
    // A CommonJS-style .ts (`module.exports = defineTask(…)`) is the definition itself.
    let module: Record<string, unknown>;
    try {
      module = (await jiti.import(file)) as Record<string, unknown>;
    } finally {
      // A module that transpiled and then threw is cached all the same.
      cache?.tighten();
    }
    return "default" in module ? module.default : isDefinition(module) ? module : undefined;
  }
  const module = (await nativeImport(pathToFileURL(file).href)) as { default?: unknown };
  return module.default;
}

/** `home`: the checked bgtask home, where a transpiled executor is cached; null caches nothing. */
export async function loadExecutor(executor: ExecutorFile, home: string | null): Promise<LoadedExecutor> {
  const { name, file } = executor;
  let exported: unknown;
  try {
    exported = await withoutModuleTypeWarning(() => importModule(file, home));
  } catch (error) {
    throw new ExecutorLoadError(name, file, explainLoadFailure(error, file), { cause: error });
  }
  if (exported === undefined || exported === null) {
    throw new ExecutorLoadError(name, file, "it has no default export; export default defineTask({ … })");
  }
  if (!isDefinition(exported)) {
    throw new ExecutorLoadError(name, file, "its default export is not made with defineTask from the bgtask package");
  }
  const definition = exported;
  if (definition.isolation !== undefined && !(ISOLATIONS as readonly unknown[]).includes(definition.isolation)) {
    throw new ExecutorLoadError(name, file, `isolation must be "inline", "thread" or "process", not ${JSON.stringify(definition.isolation)}`);
  }
  const hasRun = typeof definition.run === "function";
  const hasSteps = Array.isArray(definition.steps) && definition.steps.length > 0;
  if (hasRun === hasSteps) throw new ExecutorLoadError(name, file, "a definition needs either run() or a list of steps, not both");
  if (hasSteps && definition.steps!.some((s) => typeof s?.name !== "string" || typeof s.run !== "function")) {
    throw new ExecutorLoadError(name, file, "every step needs a name and a run() function");
  }
  const setting = (value: string | number | undefined, what: string): number | null => {
    if (value === undefined) return null;
    const parsed = tryParseDuration(value);
    if (parsed === undefined) throw new ExecutorLoadError(name, file, `${what} "${value}" is not a duration like "30s" or "10m"`);
    return parsed;
  };
  let retry: RetryPolicy | null = null;
  try {
    retry = definition.retry === undefined ? null : normaliseRetry(definition.retry);
  } catch (error) {
    if (error instanceof RetryPolicyError) throw new ExecutorLoadError(name, file, error.message);
    throw error;
  }
  const whole = (value: unknown, what: string, min: number): number | null => {
    if (value === undefined) return null;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      throw new ExecutorLoadError(name, file, `${what} ${JSON.stringify(value)} is not a whole number of ${min} or more`);
    }
    return value;
  };
  const serialKey = definition.serialKey;
  return {
    name,
    file,
    definition,
    retry,
    timeoutMs: setting(definition.timeout, "timeout"),
    sliceMs: setting(definition.slice, "slice") ?? DEFAULT_SLICE_MS,
    priority: whole(definition.priority, "priority", 0),
    concurrency: whole(definition.concurrency, "concurrency", 1),
    serialKeyOf(context) {
      if (typeof serialKey === "function") return `${name}:${String(serialKey(context))}`;
      return definition.serial ? name : null;
    },
  };
}
