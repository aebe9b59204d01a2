// What the commands that serve HTTP until stopped (`bgtask ui`, `bgtask metrics`) share: their
// --port and --host, the server bundle they load, and a clean stop on Ctrl-C or SIGTERM.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as server from "../dashboard/server.ts";
import { BgtaskError, UsageError } from "../errors.ts";

const LOOPBACK = "127.0.0.1";

export function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,5}$/.test(text.trim()) || Number(text) > 65535)
    throw new UsageError(`--port "${text}" is not a port: give a number from 0 to 65535 (0 picks a free one)`);
  return Number(text);
}

export function parseHost(text: string | undefined): string {
  if (text === undefined) return LOOPBACK;
  const host = text.trim();
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host "${text}" is not an address or a host name`);
  return host;
}

/** The dashboard bundle, beside the CLI's in dist/ (scripts/bundle.mjs): required by path, so the CLI bundle holds none of it. */
export function loadServer(): typeof server {
  const path = fileURLToPath(new URL("../dashboard/server.cjs", import.meta.url));
  return createRequire(import.meta.url)(path) as typeof server;
}

/** The dashboard bundle has its own copy of errors.ts: its errors become this bundle's, code and exit code kept, so main.ts renders them. */
export function asOurError(error: unknown): unknown {
  if (error instanceof BgtaskError || !(error instanceof Error)) return error;
  const { code, exitCode } = error as Partial<BgtaskError>;
  return typeof code === "string" && typeof exitCode === "number" ? new BgtaskError(code, error.message, { exitCode, cause: error }) : error;
}

/**
 * Resolves once `close` has run after the first SIGINT or SIGTERM. Called before the address is
 * printed: whoever reads it may stop the server at once.
 */
export function untilStopped(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
