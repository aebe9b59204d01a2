// What kind of journal a location names, without loading any store: a folder (the JSON files) or
// a PostgreSQL URL. A database journal is shared by hosts that cannot see each other's processes,
// so there a worker is judged by its heartbeat in the journal alone.
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** The schema of a PostgreSQL journal whose URL names none. */
export const DEFAULT_PG_SCHEMA = "bgtask";

/** A PostgreSQL journal's URL as it may be shown and compared: without its password, with its schema always named. */
export function shownPgLocation(url: string): string {
  const shown = new URL(url);
  shown.password = "";
  shown.searchParams.set("schema", shown.searchParams.get("schema") ?? DEFAULT_PG_SCHEMA);
  return shown.toString();
}
