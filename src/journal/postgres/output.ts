// The PostgreSQL journal's task output (task-output.ts): a task's log as rows of whole lines (each
// batch the worker flushes, in rows of at most 64 KiB), and its attachments as pieces of bytea, in the tables of
// migration 2 (postgres/schema.ts). Both reference the task with ON DELETE CASCADE, so the statement
// that removes a task removes its output, in the same transaction. Every statement runs on the
// store's own connection, in turn with its other operations (PgAccess).
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { ATTACHMENT_CHUNK_BYTES, attachmentTooLarge, logPieces, MAX_ATTACHMENT_BYTES } from "../../core/task-output.ts";
import type { Attachment } from "../../core/task.ts";
import { BgtaskError, ExitCode, UsageError } from "../../errors.ts";
import { attachmentPieces, type AttachmentSource, type LogReader, type LogWriter, type StoredAttachment, type TaskOutput } from "../task-output.ts";

type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** What the output needs of its PgStore. */
export interface PgAccess {
  /** The quoted schema name. */
  readonly s: string;
  /** The journal as shown in messages, with its schema. */
  readonly shown: string;
  /** The channel a log append notifies, with the task's id as payload. */
  readonly logChannel: string;
  /** Runs `work` as one transaction (committed asynchronously unless `sync`), run again whole when its connection is lost before the commit. */
  transaction<T>(work: (query: Query) => Promise<T>, sync: boolean): Promise<T>;
  /** Runs reads in turn with the store's other operations. */
  read<T>(work: (query: Query) => Promise<T>): Promise<T>;
  /** Calls `onNotice` for each notice about `taskId`'s log, and after the connection was made again (notices may have been missed). */
  listenLog(taskId: string, onNotice: () => void): { close(): void };
}

/** How often a follower reads a PostgreSQL log without a notice: the safety net under LISTEN. */
const LOG_SAFETY_POLL_MS = 2_000;
/** A log row holds at most about this much (a longer line is a row of its own). */
const LOG_ROW_BYTES = 64 * 1024;
/** Rows read per query when reading a log. */
const LOG_ROWS = 64;

export class PgTaskOutput implements TaskOutput {
  /** A round trip per flush: every 200 ms at most, or once 64 KiB of lines wait. */
  readonly logBatch = { ms: 200, bytes: 64 * 1024 };
  private readonly db: PgAccess;

  constructor(db: PgAccess) {
    this.db = db;
  }

  logWriter(taskId: string): LogWriter {
    const { s, logChannel } = this.db;
    return {
      // One statement, however big the batch: rows of at most LOG_ROW_BYTES keep a tail's read small.
      // A task removed meanwhile takes nothing: its lines go with it. The notice is sent at the commit.
      append: (text) =>
        this.db.transaction(async (query) => {
          await query(
            `with rows as (insert into ${s}.task_logs (task_id, lines)
               select t.id, piece.lines from ${s}.tasks t, unnest($2::text[]) with ordinality as piece (lines, n) where t.id = $1 order by piece.n
               returning task_id)
             select pg_notify($3, $1::text) from (select 1 from rows limit 1) as appended`,
            [taskId, logPieces(text, LOG_ROW_BYTES), logChannel],
          );
        }, false),
      close: () => undefined,
    };
  }

  logReader(taskId: string): LogReader {
    // Rows come in seq order, which is commit order for one writer (a worker's batches are in turn on
    // its connection). Two processes writing one task's log at once (a try presumed dead noting so
    // beside the try that took over) could commit out of seq order: a follower may then miss the
    // earlier row, which a later read of the whole log shows.
    let after = "0";
    return {
      readNew: async (onText) => {
        for (;;) {
          const { rows } = await this.db.read((query) =>
            query(`select seq::text as seq, lines from ${this.db.s}.task_logs where task_id = $1 and seq > $2 order by task_logs.seq limit ${LOG_ROWS}`, [
              taskId,
              after,
            ]),
          );
          if (rows.length === 0) return;
          after = rows[rows.length - 1]!.seq as string;
          await onText(rows.map((r) => r.lines as string).join(""));
          if (rows.length < LOG_ROWS) return;
        }
      },
    };
  }

  async logTail(taskId: string, count: number, maxBytes: number): Promise<{ text: string; cut: boolean }> {
    return this.db.read(async (query) => {
      const pieces: string[] = [];
      let lines = 0;
      let bytes = 0;
      let before: string | null = null;
      // Newest rows first, until they hold the lines asked for or the bytes looked at are used up.
      for (;;) {
        const { rows } = await query(
          `select seq::text as seq, lines from ${this.db.s}.task_logs where task_id = $1 and ($2::bigint is null or seq < $2) order by task_logs.seq desc limit 8`,
          [taskId, before],
        );
        for (const row of rows) {
          const text = row.lines as string;
          pieces.unshift(text);
          bytes += Buffer.byteLength(text);
          lines += text.split("\n").length - 1;
          if (lines >= count || bytes >= maxBytes) return { text: pieces.join(""), cut: false };
        }
        if (rows.length < 8) return { text: pieces.join(""), cut: false };
        before = rows[rows.length - 1]!.seq as string;
      }
    });
  }

  watchLog(taskId: string, onAppend: () => void): { close(): void } {
    const listening = this.db.listenLog(taskId, onAppend);
    const poll = setInterval(onAppend, LOG_SAFETY_POLL_MS);
    poll.unref();
    return {
      close: () => {
        clearInterval(poll);
        listening.close();
      },
    };
  }

  attachmentPath(taskId: string, name: string): string {
    return `${this.db.shown}#attachment/${taskId}/${encodeURIComponent(name)}`;
  }

  async putAttachment(taskId: string, name: string, source: AttachmentSource): Promise<Attachment> {
    const { s } = this.db;
    // Refused before a byte is written when the size is known; a file that grows meanwhile is stopped at the limit below.
    const known =
      typeof source === "string"
        ? Buffer.byteLength(source)
        : source instanceof Uint8Array
          ? source.length
          : "path" in source
            ? (await stat(source.path)).size
            : 0;
    if (known > MAX_ATTACHMENT_BYTES) throw new Error(attachmentTooLarge(name, known));
    // Synchronous: an executor that attached a report and returned must find it there after a crash.
    return this.db.transaction(async (query) => {
      const task = await query(`select 1 from ${s}.tasks where id = $1 for key share`, [taskId]);
      if (task.rows.length === 0) throw new Error(`task ${taskId} is no longer in the journal`);
      await query(`delete from ${s}.attachment_chunks where task_id = $1 and name = $2`, [taskId, name]);
      let size = 0;
      let seq = 0;
      for await (const piece of attachmentPieces(source, ATTACHMENT_CHUNK_BYTES)) {
        size += piece.length;
        if (size > MAX_ATTACHMENT_BYTES) throw new Error(attachmentTooLarge(name, size));
        await query(`insert into ${s}.attachment_chunks (task_id, name, seq, data) values ($1, $2, $3, $4)`, [taskId, name, seq++, Buffer.from(piece)]);
      }
      return { name, path: this.attachmentPath(taskId, name), size };
    }, true);
  }

  async openAttachment(taskId: string, attachment: Attachment): Promise<StoredAttachment> {
    const { s } = this.db;
    const found = await this.db.read((query) =>
      query(
        `select count(*)::int as pieces, coalesce(sum(length(data)), 0)::bigint::text as size from ${s}.attachment_chunks where task_id = $1 and name = $2`,
        [taskId, attachment.name],
      ),
    );
    const { pieces, size } = found.rows[0] as { pieces: number; size: string };
    // An empty attachment has no pieces: only a record that says it has bytes shows one missing.
    if (pieces === 0 && attachment.size > 0)
      throw new UsageError(`the bytes of attachment ${JSON.stringify(attachment.name)} of task ${taskId} are missing from ${this.db.shown}`, {
        code: "ENOATTACHMENT",
      });
    const read = (seq: number) =>
      this.db.read((query) => query(`select data from ${s}.attachment_chunks where task_id = $1 and name = $2 and seq = $3`, [taskId, attachment.name, seq]));
    return {
      name: attachment.name,
      size: Number(size),
      open: () =>
        Readable.from(
          (async function* () {
            for (let seq = 0; seq < pieces; seq++) {
              const row = await read(seq);
              if (row.rows.length === 0)
                throw new BgtaskError(
                  "EATTACHMENTCHANGED",
                  `attachment ${JSON.stringify(attachment.name)} of task ${taskId} was replaced or removed while it was read; read it again`,
                  { exitCode: ExitCode.problemFound },
                );
              yield row.rows[0]!.data as Buffer;
            }
          })(),
        ),
    };
  }

  removeTasks(): void {
    // The store's delete removed them (ON DELETE CASCADE).
  }
}
