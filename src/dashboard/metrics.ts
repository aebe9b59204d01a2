// The `/metrics` endpoint of `bgtask ui` and `bgtask metrics`: the journal's figures for a
// Prometheus scraper. A scraper proves itself with the configured token as a bearer token, never
// with the dashboard's per-start one; with no token configured, only this machine is served.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { PROMETHEUS_CONTENT_TYPE, prometheusText, readMetrics } from "../client/metrics.ts";
import { openStore, type Session } from "../client/session.ts";
import { CONFIG_FILE, type Config, type LocationFlags, loadConfig, MIN_TOKEN_LENGTH } from "../config/config.ts";
import { BgtaskError, UsageError } from "../errors.ts";
import { isLoopback, sameSecret, urlHostFor } from "./guard.ts";
import { listen } from "./listen.ts";

export const METRICS_PATH = "/metrics";

/** The token a scraper must send, or null when none is configured; a token file is read now, once. */
export function metricsToken(config: Config): string | null {
  const given = config.metricsToken;
  if (given === null) return null;
  if ("value" in given) return given.value;
  let token: string;
  try {
    token = readFileSync(given.file, "utf8").trim();
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`the metrics token file ${given.file} (metrics.tokenFile) cannot be read: ${why}`, { code: "ETOKENFILE" });
  }
  if (token.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      `the metrics token file ${given.file} must hold a token of ${MIN_TOKEN_LENGTH} characters or more (\`openssl rand -hex 16\` makes one)`,
      { code: "ETOKENFILE" },
    );
  return token;
}

/** The name a Host header gives, without its port or an IPv6 address's brackets. */
function hostName(host: string | undefined): string {
  const match = /^(?:\[([^\]]*)\]|([^:]*))(?::\d*)?$/.exec(host ?? "");
  return match?.[1] ?? match?.[2] ?? "";
}

/**
 * From this machine, to a loopback name: a page elsewhere that rebinds its own name to 127.0.0.1
 * reaches the loopback but sends its own name in Host.
 */
function isLocal(request: IncomingMessage): boolean {
  const remote = (request.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  return isLoopback(remote) && isLoopback(hostName(request.headers.host));
}

function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  response.end(`${text}\n`);
}

/** Answers a request for `/metrics`: the exposition, or why not (401 for a scraper without the right token). */
export async function serveMetrics(session: Session, token: string | null, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (token === null && !isLocal(request))
    return sendText(response, 403, `without a metrics token /metrics answers only on this machine; set metrics.tokenFile in ${CONFIG_FILE}`);
  const bearer = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? "")?.[1];
  if (token !== null && !sameSecret(bearer, token))
    return sendText(response, 401, "the metrics token is missing or wrong: send it as Authorization: Bearer <token>", {
      "www-authenticate": 'Bearer realm="bgtask"',
    });
  if (request.method !== "GET" && request.method !== "HEAD") return sendText(response, 405, "/metrics answers GET alone", { allow: "GET, HEAD" });
  const body = prometheusText(await readMetrics(session));
  response.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
  response.end(request.method === "HEAD" ? undefined : body);
}

/** A scrape that fails is a target down to Prometheus; why is told on stderr, a journal's error to the scraper too. */
function scrapeFailed(response: ServerResponse, error: unknown): void {
  const known = error instanceof BgtaskError;
  process.stderr.write(`bgtask metrics: ${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (response.headersSent) response.destroy();
  else sendText(response, known ? 503 : 500, known ? error.message : "internal error; the terminal running `bgtask metrics` shows what it was");
}

export interface MetricsServerOptions extends LocationFlags {
  port: number;
  host: string;
}

export interface MetricsServer {
  /** Where the exposition is: http://<host>:<port>/metrics. */
  url: string;
  close(): Promise<void>;
}

/** `bgtask metrics`: `/metrics` alone, for a host with no dashboard. Without a token it binds the loopback alone. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const config = loadConfig(options);
  const token = metricsToken(config);
  if (token === null && !isLoopback(options.host))
    throw new UsageError(
      `--host ${options.host} would serve the metrics to the network with no token; set metrics.tokenFile in ${CONFIG_FILE} (or BGTASK_METRICS_TOKEN) first`,
      { code: "ENOTOKEN" },
    );
  const session: Session = { config, store: await openStore(config) };
  const http = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://metrics.invalid").pathname;
    if (path !== METRICS_PATH) return sendText(response, 404, `nothing at ${path}; the metrics are at ${METRICS_PATH}`);
    serveMetrics(session, token, request, response).catch((error: unknown) => scrapeFailed(response, error));
  });
  // A port in use ends the command: the journal's connection must not keep the process up.
  const port = await listen(http, options.port, options.host).catch(async (error: unknown) => {
    await session.store.close();
    throw error;
  });
  return {
    url: `http://${urlHostFor(options.host)}:${port}${METRICS_PATH}`,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await session.store.close();
    },
  };
}
