// What kind of journal a location names, without loading any store: a folder (the JSON files) or
// a PostgreSQL URL. A database journal is shared by hosts that cannot see each other's processes,
// so there a worker is judged by its heartbeat in the journal alone.
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}
