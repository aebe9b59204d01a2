// The task context: parsed from the command line, checked once at the edge, then trusted.
// Pure: callers read files; this module only sees text.
import { UsageError } from "../errors.ts";

export type TaskContext = Record<string, unknown>;

export const MAX_CONTEXT_BYTES = 1024 * 1024;
const MAX_DEPTH = 64;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const PAIR_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

function describePath(path: Array<string | number>): string {
  return path.length === 0 ? "the top level" : `context${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}`;
}

/**
 * Checks a parsed value is a JSON object fit to be a context: no prototype keys at any depth,
 * nesting within bounds. Walks iteratively so a hostile document cannot overflow the stack.
 */
export function validateContext(value: unknown, source: string): TaskContext {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new UsageError(`${source} must be a JSON object like {"file":"users.csv"}, got ${kind}`);
  }
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: node, path } = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (path.length >= MAX_DEPTH) {
      throw new UsageError(`${source} is nested deeper than ${MAX_DEPTH} levels at ${describePath(path.slice(0, 8))}…`);
    }
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) stack.push({ value: item, path: [...path, i] });
      continue;
    }
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new UsageError(`${source} has the forbidden key "${key}" at ${describePath(path)}; rename it`);
      }
      stack.push({ value: (node as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return value as TaskContext;
}

/** Parses JSON text as a context; `source` names where it came from in error messages. */
export function parseContextJson(text: string, source: string): TaskContext {
  if (Buffer.byteLength(text) > MAX_CONTEXT_BYTES) {
    throw new UsageError(`${source} is larger than ${MAX_CONTEXT_BYTES / 1024} KiB; pass a file path in the context instead`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  return validateContext(parsed, source);
}

/**
 * `key=value` pairs; a value is JSON when it parses as JSON, else the plain string. A number JSON
 * cannot hold exactly (an integer beyond 2^53, like an id of 20 digits) stays the string typed.
 */
export function parsePairs(pairs: readonly string[]): TaskContext {
  const context: TaskContext = {};
  pairs.forEach((pair, i) => {
    const eq = pair.indexOf("=");
    const where = `argument ${i + 1} ("${pair.length > 40 ? `${pair.slice(0, 40)}…` : pair}")`;
    if (eq <= 0) throw new UsageError(`${where} is not a key=value pair`);
    const key = pair.slice(0, eq);
    if (FORBIDDEN_KEYS.has(key)) throw new UsageError(`${where} uses the forbidden key "${key}"`);
    if (!PAIR_KEY.test(key)) {
      throw new UsageError(`${where} has an invalid key: use letters, digits, "_" and "-", starting with a letter`);
    }
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: the plain string is the value
    }
    if (typeof value === "number" && (!Number.isFinite(value) || (/^-?\d+$/.test(raw) && !Number.isSafeInteger(value)))) value = raw;
    context[key] = validateContext({ [key]: value }, `${where}`)[key];
  });
  return context;
}

/**
 * Merges the context sources: JSON first, pairs override its top-level keys. The size limit holds
 * for what is stored, the merged context, not only for each source on its own.
 */
export function mergeContext(base: TaskContext | null, pairs: TaskContext, source: string): TaskContext {
  const merged = { ...(base ?? {}), ...pairs };
  const bytes = Buffer.byteLength(JSON.stringify(merged));
  if (bytes > MAX_CONTEXT_BYTES) {
    throw new UsageError(
      `the context of ${source} is larger than ${MAX_CONTEXT_BYTES / 1024} KiB (${Math.ceil(bytes / 1024)} KiB with every source merged); pass a file path in the context instead`,
    );
  }
  return merged;
}
