// The dashboard's live feed: server-sent events to every open page, driven by the journal's own
// change notices (client/follow.ts's watchJournal over the store's watchChanges), never by polling.
// At each change it reads only the tasks the change names, once for every page, and the overview
// at most once a second.
import type { ServerResponse } from "node:http";
import { watchJournal } from "../client/follow.ts";
import { pausedQueues } from "../client/queues.ts";
import type { Session } from "../client/session.ts";
import { readStats } from "../client/stats.ts";
import { listWorkers } from "../client/workers.ts";
import { publicRecord } from "../core/task.ts";

const OVERVIEW_EVERY_MS = 1_000;
/** A comment line now and then keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export function sendEvent(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export class LiveFeed {
  private readonly session: Session;
  private readonly clients = new Set<ServerResponse>();
  private watch: { close(): void } | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private overviewTimer: NodeJS.Timeout | null = null;
  private overviewAt = 0;
  private readonly onError: (error: unknown) => void;

  constructor(session: Session, onError: (error: unknown) => void) {
    this.session = session;
    this.onError = onError;
  }

  add(response: ServerResponse): void {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    response.write("retry: 1000\n\n");
    this.clients.add(response);
    response.on("close", () => {
      this.clients.delete(response);
      if (this.clients.size === 0) this.stop();
    });
    if (this.watch === null) {
      this.watch = watchJournal(this.session, (ids) => void this.changed(ids).catch(this.onError));
      this.keepalive = setInterval(() => this.broadcast(null, null), KEEPALIVE_MS);
    }
  }

  private broadcast(event: string | null, data: unknown): void {
    for (const client of this.clients) {
      if (event === null) client.write(": keepalive\n\n");
      else sendEvent(client, event, data);
    }
  }

  private async changed(ids: string[] | null): Promise<void> {
    if (ids === null) this.broadcast("tasks", { all: true, tasks: [], gone: [] });
    else if (ids.length > 0) {
      const tasks = await this.session.store.list({ ids });
      const found = new Set(tasks.map((t) => t.id));
      this.broadcast("tasks", { all: false, tasks: tasks.map(publicRecord), gone: ids.filter((id) => !found.has(id)) });
    }
    this.scheduleOverview();
  }

  private scheduleOverview(): void {
    if (this.overviewTimer) return;
    this.overviewTimer = setTimeout(
      () => {
        this.overviewTimer = null;
        this.overviewAt = Date.now();
        void this.overview()
          .then((overview) => this.broadcast("overview", overview))
          .catch(this.onError);
      },
      Math.max(0, this.overviewAt + OVERVIEW_EVERY_MS - Date.now()),
    );
  }

  private overview() {
    return overviewOf(this.session);
  }

  stop(): void {
    this.watch?.close();
    this.watch = null;
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.overviewTimer) clearTimeout(this.overviewTimer);
    this.keepalive = null;
    this.overviewTimer = null;
  }

  close(): void {
    this.stop();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}

/** What the overview shows: the stats, the workers, and which queues are paused. */
export async function overviewOf(session: Session) {
  const workers = await listWorkers(session);
  return { stats: await readStats(session, new Date(), workers), workers, paused: await pausedQueues(session) };
}
