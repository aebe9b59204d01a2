// Every error bgtask raises on purpose, with the exit code the contract gives it.
// Rendering happens once, in cli/main.ts; nothing here prints.

// problemFound: a check found something wrong (`executors` with a module that cannot be used).
// timedOut: `bgtask wait --timeout` ran out first, 124 as timeout(1) and pueue's wait exit with.
export const ExitCode = { ok: 0, taskFailed: 1, problemFound: 1, usage: 2, journal: 3, timedOut: 124 } as const;

export class BgtaskError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, options?: ErrorOptions & { exitCode?: number }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Bad flag, bad name, bad context, bad id: exit 2, nothing written. */
export class UsageError extends BgtaskError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(options?.code ?? "EUSAGE", message, { ...options, exitCode: ExitCode.usage });
  }
}

/** A `--since` cursor the journal did not make. */
export class BadCursorError extends UsageError {
  constructor(cursor: string, journal: string) {
    super(`"${cursor}" is not an event cursor of ${journal}; use one that \`bgtask events --json\` printed for this journal`, { code: "EBADCURSOR" });
  }
}

export class TaskNotFoundError extends UsageError {
  constructor(id: string) {
    super(`no task with id "${id}"; \`bgtask list\` shows the tasks there are`, { code: "ENOTASK" });
  }
}

/** A wait for tasks (`wait({ timeout })`, `bgtask wait --timeout`) ran out before they were final. */
export class WaitTimeoutError extends BgtaskError {
  /** The tasks still not final when the time ran out. */
  readonly pending: string[];
  constructor(pending: readonly string[], timeout: string) {
    const which = pending.length === 1 ? `task ${pending[0]} is` : `tasks ${pending.join(", ")} are`;
    const keep = pending.length === 1 ? "it keeps running (`bgtask status` shows it)" : "they keep running (`bgtask list` shows them)";
    super("ETIMEOUT", `${which} still not final after ${timeout}; ${keep}`, { exitCode: ExitCode.timedOut });
    this.pending = [...pending];
  }
}

/** A task waited for was removed before it was final: it will never be. */
export class TaskRemovedError extends BgtaskError {
  constructor(id: string) {
    super("EREMOVED", `task ${id} was removed while it was waited for`, { exitCode: ExitCode.taskFailed });
  }
}

/** The journal cannot be read or written: exit 3, and the file is left as it was. */
export class JournalError extends BgtaskError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, { ...options, exitCode: ExitCode.journal });
  }
}

export class JournalCorruptError extends JournalError {
  /** The damaged file, and what is wrong with it (the sentence's parenthesis). */
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(
      "EJOURNALCORRUPT",
      `the journal ${file} cannot be read (${reason}); it was left untouched: run \`bgtask doctor\` to see what is damaged and \`bgtask doctor --repair\` to rebuild it`,
      options,
    );
    this.file = file;
    this.reason = reason;
  }
}

export class JournalLockedError extends JournalError {
  constructor(lockPath: string, waitedMs: number, holderPid: number | null = null) {
    const holder = holderPid === null ? "another bgtask process" : `process ${holderPid}, which is still running,`;
    super("EJOURNALLOCKED", `the journal lock ${lockPath} was still held after ${Math.round(waitedMs / 1000)}s; ${holder} may be stuck, try again`);
  }
}

/**
 * The journal's database cannot be reached (refused, or the connection was lost before a commit),
 * or it refused the statement for want of something that comes back (disk space, a connection,
 * memory, time, a writable primary): nothing was changed, and the same command may work later.
 */
export class JournalUnavailableError extends JournalError {
  constructor(location: string, cause: unknown) {
    super("EUNAVAILABLE", databaseSentence(location, cause), { cause });
  }
}

/**
 * PostgreSQL's refusals a journal operation may meet that pass (SQLSTATE classes 53, 25006,
 * 57014, 55P03), as what is wrong and what to do; null for any other error. A quota met by the
 * server may come as XX000 (internal_error) with the errno's text: that text says it.
 */
function refusal(error: { code?: unknown; message?: unknown }): { what: string; todo: string } | null {
  const text = typeof error.message === "string" ? error.message : "";
  switch (error.code) {
    case "53100":
      return { what: "is out of disk space", todo: "free space and try again" };
    case "53200":
      return { what: "is out of memory", todo: "try again once it has some to spare" };
    case "53300":
      return { what: "has no connection to spare", todo: "close some (or raise max_connections) and try again" };
    case "53400":
    case "53000":
      return { what: "reached one of its configured limits", todo: "raise it or try again later" };
    case "25006":
      return { what: "is read-only", todo: "point the journal URL at the primary, or make the database writable, and try again" };
    case "57014":
      return { what: "cancelled the statement", todo: "try again (a statement_timeout set for bgtask's role or database must allow its statements)" };
    case "55P03":
      return { what: "did not grant a lock in time", todo: "try again (lock_timeout is set for bgtask's role or database)" };
  }
  if (/No space left on device|Disk quota exceeded/i.test(text)) return { what: "is out of disk space", todo: "free space and try again" };
  return null;
}

/** True for an error PostgreSQL raised because a resource ran out or writes are refused: the transaction was rolled back and it may pass. */
export function isDatabaseRefusal(error: unknown): boolean {
  return error instanceof Error && !(error instanceof BgtaskError) && refusal(error as { code?: unknown }) !== null;
}

function databaseSentence(location: string, cause: unknown): string {
  const error = coerceError(cause);
  const refused = refusal(error as { code?: unknown });
  return refused
    ? `the PostgreSQL journal at ${location} ${refused.what} (${error.message}); ${refused.todo}`
    : `cannot reach the PostgreSQL journal at ${location}: ${error.message}`;
}

/** The connection was lost while a commit was under way: whether it was made cannot be told. */
export class JournalOutcomeUnknownError extends JournalError {
  constructor(location: string, cause: unknown) {
    super(
      "EUNKNOWN",
      `lost the PostgreSQL journal at ${location} while committing (${(cause as Error)?.message ?? String(cause)}): the change may or may not have been made; \`bgtask list\` shows which`,
      { cause },
    );
  }
}

/** A worker's write carried a lease token that is no longer the task's: its try was taken away. */
export class LeaseLostError extends BgtaskError {
  constructor(taskId: string) {
    super("ELEASELOST", `task ${taskId} is no longer held by this worker (its try was recovered or cancelled)`);
  }
}

/** Thrown by an executor to fail at once, with no further tries. */
export class UnrecoverableError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnrecoverableError";
  }
}

/** Turns anything thrown (a string, an object, undefined) into an Error that keeps a message. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  let message: string;
  if (typeof value === "string") message = value;
  else {
    let text: string;
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    message = `non-Error thrown: ${text}`;
  }
  const error = new Error(message);
  // The stack of a coerced value points at coerceError, not the thrower: drop it rather than mislead.
  error.stack = `Error: ${message}`;
  return error;
}

/**
 * A filesystem error that reached the journal's edge unwrapped (a stat, a folder listing, a chmod
 * on the way) as the journal error it is: exit 3 naming the file, never an internal error. Any
 * other error passes as it is.
 */
export function asJournalError(error: unknown, fallbackPath: string): unknown {
  if (error instanceof BgtaskError || !(error instanceof Error)) return error;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code !== "string" || typeof syscall !== "string") return error;
  return journalIoError(path ?? fallbackPath, error);
}

/** The errno code (ENOSPC, EROFS, …) of a filesystem error, or of the one a journal error wraps. */
export function ioCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (!(current instanceof BgtaskError) && typeof code === "string") return code;
    current = current.cause;
  }
  return undefined;
}

/** True for the errors a full disk gives (a full device, or the user's quota on it). */
export function isNoSpace(error: unknown): boolean {
  const code = ioCodeOf(error);
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Node's text for an errno error without the code in front and the syscall and path behind. */
function describeIo(error: NodeJS.ErrnoException): string {
  let text = error.message;
  if (error.code && text.startsWith(`${error.code}: `)) text = text.slice(error.code.length + 2);
  if (error.syscall) {
    const at = text.lastIndexOf(`, ${error.syscall}`);
    if (at !== -1) text = text.slice(0, at);
  }
  return text;
}

/**
 * Maps a filesystem error on a journal file to exit 3 with one sentence naming the file and what
 * to do; the errno code is said once, in words where it is a common one.
 */
export function journalIoError(file: string, cause: unknown): JournalError {
  const error = coerceError(cause) as NodeJS.ErrnoException;
  let message: string;
  switch (error.code) {
    case "ENOSPC":
      message = `no space left on the device holding ${file}; free some space and try again`;
      break;
    case "EDQUOT":
      message = `the disk quota is used up on the device holding ${file}; free some space and try again`;
      break;
    case "EROFS":
      message = `the file system holding ${file} is read-only; remount it read-write, or choose another home with --home or BGTASK_HOME`;
      break;
    case "EACCES":
    case "EPERM":
      message = `permission denied on ${file}; check the owner and mode of the file and of the bgtask home`;
      break;
    default:
      message = `cannot read or write the journal at ${file} (${error.code ? `${error.code}: ` : ""}${describeIo(error)})`;
  }
  return new JournalError("EJOURNALIO", message, { cause });
}
