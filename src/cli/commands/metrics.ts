// `bgtask metrics`: `/metrics` alone, for a Prometheus scraper on a host with no dashboard; prints
// its URL and serves until Ctrl-C or SIGTERM, then closes cleanly. Without a metrics token it
// binds the loopback alone: another --host is exit 2, with nothing started.
import type { LocationFlags } from "../../config/config.ts";
import { asOurError, loadServer, parseHost, parsePort, untilStopped } from "../serve.ts";

export interface MetricsOptions extends LocationFlags {
  port?: string;
  host?: string;
}

/** The dashboard's port plus one: both can run on one host without a flag. */
const DEFAULT_PORT = 4301;

export async function metrics(options: MetricsOptions): Promise<void> {
  const port = parsePort(options.port, DEFAULT_PORT);
  const host = parseHost(options.host);
  const server = await loadServer()
    .startMetricsServer({ ...options, port, host })
    .catch((error: unknown) => {
      throw asOurError(error);
    });
  const stopped = untilStopped(() => server.close());
  process.stdout.write(`${server.url}\n`);
  process.stderr.write("bgtask: serving the metrics until Ctrl-C\n");
  await stopped;
}
