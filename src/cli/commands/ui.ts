// `bgtask ui`: starts the dashboard (its own bundle, loaded only here), prints its URL with the
// access token, and serves until Ctrl-C or SIGTERM, then closes cleanly. A busy port is exit 2.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { LocationFlags } from "../../config/config.ts";
import { BgtaskError, UsageError } from "../../errors.ts";
import type * as server from "../../dashboard/server.ts";

export interface UiOptions extends LocationFlags {
  port?: string;
  host?: string;
  open?: boolean;
}

const DEFAULT_PORT = 4300;
const LOOPBACK = "127.0.0.1";

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  if (!/^[0-9]{1,5}$/.test(text.trim()) || Number(text) > 65535)
    throw new UsageError(`--port "${text}" is not a port: give a number from 0 to 65535 (0 picks a free one)`);
  return Number(text);
}

function parseHost(text: string | undefined): string {
  if (text === undefined) return LOOPBACK;
  const host = text.trim();
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host "${text}" is not an address or a host name`);
  return host;
}

/** The dashboard bundle, beside the CLI's in dist/ (scripts/bundle.mjs): required by path, so the CLI bundle holds none of it. */
function loadServer(): typeof server {
  const path = fileURLToPath(new URL("../dashboard/server.cjs", import.meta.url));
  return createRequire(import.meta.url)(path) as typeof server;
}

/** The dashboard bundle has its own copy of errors.ts: its errors become this bundle's, code and exit code kept, so main.ts renders them. */
function asOurError(error: unknown): unknown {
  if (error instanceof BgtaskError || !(error instanceof Error)) return error;
  const { code, exitCode } = error as Partial<BgtaskError>;
  return typeof code === "string" && typeof exitCode === "number" ? new BgtaskError(code, error.message, { exitCode, cause: error }) : error;
}

/** Opens `url` in the user's browser; a failure is a warning, never an error. */
function openBrowser(url: string): void {
  // Windows: what `start` does, without cmd.exe, whose parsing of the URL would be a shell's.
  const [command, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["rundll32", ["url.dll,FileProtocolHandler", url]] : ["xdg-open", [url]];
  const warn = (why: string) => process.stderr.write(`bgtask: could not open a browser (${why}); open the URL above yourself\n`);
  try {
    const child = spawn(command as string, args as string[], { stdio: "ignore", detached: true });
    child.on("error", (error) => warn(error.message));
    child.on("exit", (code) => code !== 0 && code !== null && warn(`${command} exited with ${code}`));
    child.unref();
  } catch (error) {
    warn((error as Error).message);
  }
}

export async function ui(options: UiOptions): Promise<void> {
  const port = parsePort(options.port);
  const host = parseHost(options.host);
  const { isLoopback, startDashboard } = loadServer();
  const dashboard = await startDashboard({ ...options, port, host }).catch((error: unknown) => {
    throw asOurError(error);
  });
  // Listened for before the URL is printed: whoever reads the URL may stop it at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void dashboard.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stdout.write(`${dashboard.url}\n`);
  if (!isLoopback(host))
    process.stderr.write(`bgtask: warning: --host ${host} makes the dashboard reachable from the network; anyone with the URL can cancel and start tasks\n`);
  process.stderr.write("bgtask: the dashboard serves until Ctrl-C\n");
  if (options.open) openBrowser(dashboard.url);
  await stopped;
}
