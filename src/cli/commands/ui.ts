// `bgtask ui`: starts the dashboard (its own bundle, loaded only by the commands that serve HTTP),
// prints its URL with the access token, and serves until Ctrl-C or SIGTERM, then closes cleanly. A busy port is exit 2.
import { spawn } from "node:child_process";
import type { LocationFlags } from "../../config/config.ts";
import { asOurError, loadServer, parseHost, parsePort, untilStopped } from "../serve.ts";

export interface UiOptions extends LocationFlags {
  port?: string;
  host?: string;
  open?: boolean;
}

const DEFAULT_PORT = 4300;

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
  const port = parsePort(options.port, DEFAULT_PORT);
  const host = parseHost(options.host);
  const { isLoopback, startDashboard } = loadServer();
  const dashboard = await startDashboard({ ...options, port, host }).catch((error: unknown) => {
    throw asOurError(error);
  });
  const stopped = untilStopped(() => dashboard.close());
  process.stdout.write(`${dashboard.url}\n`);
  if (!isLoopback(host))
    process.stderr.write(`bgtask: warning: --host ${host} makes the dashboard reachable from the network; anyone with the URL can cancel and start tasks\n`);
  process.stderr.write("bgtask: the dashboard serves until Ctrl-C\n");
  if (options.open) openBrowser(dashboard.url);
  await stopped;
}
