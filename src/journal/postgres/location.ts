// The parts of a PostgreSQL journal's URL that are read without connecting (open.ts shows it, the store connects to it).

/** The schema of a PostgreSQL journal whose URL names none. */
export const DEFAULT_PG_SCHEMA = "bgtask";

/** A PostgreSQL journal's URL as it may be shown and compared: without its password, with its schema always named. */
export function shownPgLocation(url: string): string {
  const shown = new URL(url);
  shown.password = "";
  shown.searchParams.set("schema", shown.searchParams.get("schema") ?? DEFAULT_PG_SCHEMA);
  return shown.toString();
}
