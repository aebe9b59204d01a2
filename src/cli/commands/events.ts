// `bgtask events [--since CURSOR] [--follow] [--json]`: the journal's event feed, one line per
// transition of a task, or NDJSON whose every object carries the cursor to resume after it.
// Without --follow it prints what is kept and exits; with it, it runs until Ctrl-C or SIGTERM,
// which end it with exit 0: being stopped is how a feed that never ends on its own ends.
import { once } from "node:events";
import { eventPages } from "../../client/events.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import type { TaskEvent } from "../../core/events.ts";
import { untilInterrupted } from "../interrupt.ts";
import { outputMode } from "../output/color.ts";
import { renderEventLine } from "../output/events.ts";
import { toJson } from "../output/json.ts";
import { sanitizeInline } from "../output/sanitize.ts";

export interface EventsOptions extends LocationFlags {
  since?: string;
  follow?: boolean;
  json?: boolean;
}

/**
 * Prints every page `eventPages` reads; a reader slower than the feed (`| while read`) holds the
 * next read back rather than have a backlog of days buffered in memory.
 */
async function printEvents(pages: AsyncIterable<TaskEvent[]>, line: (event: TaskEvent) => string, signal?: AbortSignal): Promise<number> {
  let printed = 0;
  for await (const page of pages) {
    printed += page.length;
    if (!process.stdout.write(page.map((event) => `${line(event)}\n`).join(""))) {
      await once(process.stdout, "drain", { signal }).catch((error: unknown) => {
        if (!signal?.aborted) throw error;
      });
    }
  }
  return printed;
}

export async function events(options: EventsOptions): Promise<void> {
  const session = await openSession(options);
  const since = options.since ?? null;
  const line = options.json ? toJson : renderEventLine;
  if (!options.follow) {
    const printed = await printEvents(eventPages(session, { since }), line);
    // An empty stdout alone looks like a broken command; stderr keeps `events > file` empty.
    if (printed === 0 && !options.json) process.stderr.write(`(no events kept${since === null ? "" : ` after ${sanitizeInline(since)}`})\n`);
    return;
  }
  if (outputMode().interactive) process.stderr.write("bgtask: following the events until Ctrl-C\n");
  await untilInterrupted((signal) => printEvents(eventPages(session, { since, follow: true, signal }), line, signal), ["SIGINT", "SIGTERM"]);
}
