// A PostgreSQL journal's URL, read without connecting: open.ts shows it, the connection uses it.
import { UsageError } from "../../errors.ts";

/** The schema of a PostgreSQL journal whose URL names none. */
export const DEFAULT_PG_SCHEMA = "bgtask";

/** A PostgreSQL journal's URL as it may be shown and compared: without its password, with its schema always named. */
export function shownPgLocation(url: string): string {
  const shown = new URL(url);
  shown.password = "";
  shown.searchParams.set("schema", shown.searchParams.get("schema") ?? DEFAULT_PG_SCHEMA);
  return shown.toString();
}

export interface PgLocation {
  /** The URL as given, without a password, for messages. */
  shown: string;
  connectionString: string;
  schema: string;
  /** False (`?listen=off`): never LISTEN, poll. A transaction pooler (PgBouncer's pool_mode=transaction) accepts LISTEN but delivers nothing. */
  listen: boolean;
}

/** Splits bgtask's own `?schema=` and `?listen=` off a postgres:// URL (PostgreSQL itself would refuse them as start-up parameters). */
export function parsePgLocation(url: string): PgLocation {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? DEFAULT_PG_SCHEMA;
  const listen = parsed.searchParams.get("listen") ?? "on";
  if (listen !== "on" && listen !== "off") {
    throw new UsageError(`the journal URL's listen=${listen} must be listen=on (the default) or listen=off (poll, behind a transaction pooler)`);
  }
  parsed.searchParams.delete("schema");
  parsed.searchParams.delete("listen");
  const shown = new URL(parsed.toString());
  shown.password = "";
  return { shown: shown.toString(), connectionString: parsed.toString(), schema, listen: listen === "on" };
}
