// The dashboard's web server (node:http): the page's own assets, a JSON API over the client layer,
// the live feed, and `/metrics` for a Prometheus scraper (metrics.ts). It serves no other file
// than its assets and a task's attachments (by name, through the client, never a path from the
// URL), and answers every bad request with a 4xx and a JSON error, never a stack. Started by
// `bgtask ui` (and its `/metrics` alone by `bgtask metrics`); its own bundle, so other commands never load it.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { readAttachment } from "../client/attachment.ts";
import { cancelQueued, cancelTasks, removeFinishedTasks, removeTasks, retryFailed, retryTasks } from "../client/control.ts";
import { setQueuesPaused } from "../client/queues.ts";
import { taskDetails } from "../client/details.ts";
import { enqueueJsonContext } from "../client/enqueue.ts";
import { describeExecutors } from "../client/executors.ts";
import { readTaskLog } from "../client/logs.ts";
import { listPage } from "../client/query.ts";
import { listSchedules } from "../client/schedules.ts";
import { readActivity } from "../client/stats.ts";
import { openSession, type Session } from "../client/session.ts";
import type { LocationFlags } from "../config/config.ts";
import { publicRecord } from "../core/task.ts";
import { BgtaskError, ExitCode } from "../errors.ts";
import { createGuard, refusal, tokenCookie, urlHostFor, type Guard } from "./guard.ts";
import { listen } from "./listen.ts";
import { LiveFeed, overviewOf, sendEvent } from "./live.ts";
import { METRICS_PATH, metricsToken, serveMetrics } from "./metrics.ts";
import { type BulkAction, PAGE_SIZE, parseActivityQuery, parseBulk, parsePageQuery, parseRunBody } from "./requests.ts";

const ASSETS: Record<string, string> = {
  "/": "index.html",
  "/assets/app.js": "app.js",
  "/assets/style.css": "style.css",
  "/assets/icon.svg": "icon.svg",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};
const MAX_BODY = 3 * 1024 * 1024;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** What an action does to one task; pause and resume slot in here as more rows. */
const ACTIONS: Record<string, (session: Session, id: string) => Promise<unknown>> = {
  cancel: async (session, id) => ({ task: publicRecord((await cancelTasks(session, [id], { wait: false }))[0]!) }),
  retry: async (session, id) => ({ task: publicRecord((await retryTasks(session, [id], {}))[0]!) }),
  remove: async (session, id) => ({ removed: await removeTasks(session, [id]) }),
};

/** What a bulk action does to every task of a status (of one executor, when the body names one): `retry --failed`, `cancel --all-queued`, `remove --finished`. */
const BULK: Record<BulkAction, (session: Session, executor: string | undefined) => Promise<string[]>> = {
  "retry-failed": async (session, executor) => (await retryFailed(session, { executor })).map((t) => t.id),
  "cancel-queued": async (session, executor) => (await cancelQueued(session, { executor, wait: false })).map((t) => t.id),
  "remove-finished": (session, executor) => removeFinishedTasks(session, null, { executor }),
};

/** `bgtask schedules`, with the status of the task each last fired (null once it was removed). */
async function schedulesWithTasks(session: Session) {
  return Promise.all(
    (await listSchedules(session)).map(async (schedule) => {
      const task = schedule.last ? await session.store.get(schedule.last.taskId) : null;
      return { ...schedule, lastStatus: task?.status ?? null };
    }),
  );
}

export interface DashboardOptions extends LocationFlags {
  port: number;
  host: string;
}

export interface Dashboard {
  /** The page's URL with the access token. */
  url: string;
  /** Journal reads the dashboard made so far (every store read of its session). */
  storeReads(): number;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify(body));
}

function statusOf(error: BgtaskError): number {
  if (error.code === "ENOTASK" || error.code === "ENOATTACHMENT") return 404;
  if (error.exitCode === ExitCode.usage) return 400;
  if (error.exitCode === ExitCode.journal) return 503;
  return 409;
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  if (!(request.headers["content-type"] ?? "").startsWith("application/json")) throw new HttpError(415, "ETYPE", "send the body as application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "ETOOBIG", `the body is larger than ${MAX_BODY / 1024 / 1024} MiB`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "EJSON", "the body is not JSON");
  }
}

/** Every store read the dashboard makes goes through here and is counted (the page shows the count; docs/README-performance.md measures with it). */
function countingSession(session: Session): { session: Session; reads: () => number } {
  let reads = 0;
  const counted = new Set(["get", "list", "page", "stats", "counters", "workerSlots", "survey", "tryControl", "tickHolder", "pausedQueues"]);
  const store = new Proxy(session.store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (counted.has(String(key))) reads += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { session: { ...session, store }, reads: () => reads };
}

class DashboardServer {
  private readonly session: Session;
  private readonly guard: Guard;
  private readonly metricsToken: string | null;
  private readonly assetsDir: URL;
  private readonly live: LiveFeed;
  private readonly reads: () => number;
  private readonly streams = new Set<AbortController>();

  constructor(session: Session, guard: Guard, metricsToken: string | null) {
    const counted = countingSession(session);
    this.session = counted.session;
    this.reads = counted.reads;
    this.guard = guard;
    this.metricsToken = metricsToken;
    this.assetsDir = new URL("./assets/", import.meta.url);
    this.live = new LiveFeed(this.session, (error) => this.logError(error));
  }

  storeReads(): number {
    return this.reads();
  }

  logError(error: unknown): void {
    process.stderr.write(`bgtask ui: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://dashboard.invalid");
    // A scraper has the metrics token, not the dashboard's, which is new at every start.
    if (url.pathname === METRICS_PATH) return serveMetrics(this.session, this.metricsToken, request, response);
    const refused = refusal(this.guard, request, url.searchParams.get("token"));
    if (refused) return sendJson(response, refused.status, { error: { code: refused.code, message: refused.message } });
    if (url.searchParams.has("token") && request.method === "GET") {
      // The token leaves the address bar (and the history) once it is a cookie.
      response.writeHead(303, { ...SECURITY_HEADERS, "set-cookie": tokenCookie(this.guard), location: url.pathname });
      return void response.end();
    }
    const asset = ASSETS[url.pathname];
    if (asset !== undefined && request.method === "GET") return this.serveAsset(response, asset);
    if (!url.pathname.startsWith("/api/")) throw new HttpError(404, "ENOTFOUND", `nothing at ${url.pathname}`);
    return this.api(request, response, url);
  }

  private serveAsset(response: ServerResponse, name: string): void {
    const body = readFileSync(fileURLToPath(new URL(name, this.assetsDir)));
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": TYPES[name.split(".").pop()!]! });
    response.end(body);
  }

  private async api(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    let parts: string[];
    try {
      parts = url.pathname.slice("/api/".length).split("/").map(decodeURIComponent);
    } catch {
      throw new HttpError(400, "EURL", "the address is not well encoded");
    }
    const route = `${request.method} ${parts[0]}${parts.length > 1 ? "/:id" : ""}${parts.length > 2 ? `/${parts[2]}` : ""}${parts.length > 3 ? "/:name" : ""}`;
    const session = this.session;
    switch (route) {
      case "GET session": {
        const executors = (await describeExecutors(session.config)).filter((e) => e.ok).map((e) => e.name);
        return sendJson(response, 200, { csrf: this.guard.csrf, root: session.config.root, executors, pageSize: PAGE_SIZE });
      }
      case "GET metrics":
        return sendJson(response, 200, { storeReads: this.reads() });
      case "GET stats":
        return sendJson(response, 200, await overviewOf(session));
      case "GET activity":
        return sendJson(response, 200, await readActivity(session, parseActivityQuery(url.searchParams)));
      case "GET schedules":
        return sendJson(response, 200, { schedules: await schedulesWithTasks(session) });
      case "GET tasks": {
        const query = parsePageQuery(url.searchParams);
        const { tasks, more } = await listPage(session, { ...query, pageSize: PAGE_SIZE });
        return sendJson(response, 200, { tasks: tasks.map(publicRecord), more, page: query.page });
      }
      case "POST tasks": {
        const body = parseRunBody(await readBody(request));
        return sendJson(response, 201, { task: publicRecord(await enqueueJsonContext(session, body.executor, body.context)) });
      }
      case "POST bulk/:id": {
        const { action, executor } = parseBulk(parts[1]!, await readBody(request));
        return sendJson(response, 200, { ids: await BULK[action](session, executor) });
      }
      case "GET events":
        return this.live.add(response);
      case "GET tasks/:id": {
        const details = await taskDetails(session, parts[1]!, 0);
        return sendJson(response, 200, { task: publicRecord(details.task), workerGone: details.workerGone, notRun: details.notRun ?? null });
      }
      case "GET tasks/:id/log":
        return this.streamLog(response, parts[1]!);
      case "GET tasks/:id/attachments/:name":
        return this.sendAttachment(response, parts[1]!, parts[3]!);
      default: {
        const action = request.method === "POST" && parts.length === 3 && parts[0] === "tasks" ? ACTIONS[parts[2]!] : undefined;
        if (action && Object.hasOwn(ACTIONS, parts[2]!)) return sendJson(response, 200, await action(session, parts[1]!));
        if (request.method === "POST" && parts.length === 3 && parts[0] === "queues" && (parts[2] === "pause" || parts[2] === "resume")) {
          const change = await setQueuesPaused(session, { executors: [parts[1]!] }, parts[2] === "pause", (option) => option);
          return sendJson(response, 200, { paused: change.paused });
        }
        throw new HttpError(404, "ENOTFOUND", `no ${request.method} ${url.pathname}`);
      }
    }
  }

  private async sendAttachment(response: ServerResponse, id: string, name: string): Promise<void> {
    const file = await readAttachment(this.session, id, name);
    const bytes = file.open();
    // Headers are sent: a read that fails now can only cut the download short.
    bytes.on("error", () => response.destroy());
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "application/octet-stream",
      "content-length": String(file.size),
      "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    });
    bytes.pipe(response);
  }

  /** The task's log as events, then what is appended until it is final; "end" says it is. */
  private async streamLog(response: ServerResponse, id: string): Promise<void> {
    const stop = new AbortController();
    // Checked before the stream starts, so a bad id is a plain 4xx.
    await taskDetails(this.session, id, 0);
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream" });
    response.on("close", () => stop.abort());
    this.streams.add(stop);
    try {
      await readTaskLog(this.session, id, (lines) => sendEvent(response, "lines", lines), { follow: true, signal: stop.signal });
      sendEvent(response, "end", {});
    } finally {
      this.streams.delete(stop);
      response.end();
    }
  }

  close(): void {
    this.live.close();
    for (const stream of this.streams) stream.abort();
  }
}

function respondToError(server: DashboardServer, response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof HttpError) sendJson(response, error.status, { error: { code: error.code, message: error.message } });
  else if (error instanceof BgtaskError) sendJson(response, statusOf(error), { error: { code: error.code, message: error.message } });
  else {
    server.logError(error);
    sendJson(response, 500, { error: { code: "EINTERNAL", message: "internal error; the terminal running `bgtask ui` shows what it was" } });
  }
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const session = await openSession(options);
  const http = createServer();
  // A token file that cannot be read, or a port in use, ends the command: the journal's connection must not keep the process up.
  const started = async () => ({ token: metricsToken(session.config), port: await listen(http, options.port, options.host) });
  const { token, port } = await started().catch(async (error: unknown) => {
    await session.store.close();
    throw error;
  });
  const guard = createGuard(options.host, port);
  const server = new DashboardServer(session, guard, token);
  http.on("request", (request: IncomingMessage, response: ServerResponse) => {
    server.handle(request, response).catch((error: unknown) => respondToError(server, response, error));
  });
  return {
    url: `http://${urlHostFor(options.host)}:${port}/?token=${guard.token}`,
    storeReads: () => server.storeReads(),
    close: async () => {
      server.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await session.store.close();
    },
  };
}

export { isLoopback } from "./guard.ts";
export { startMetricsServer } from "./metrics.ts";
