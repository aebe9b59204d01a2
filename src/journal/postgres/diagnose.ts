// `bgtask migrate` and `bgtask doctor` on a PostgreSQL journal: each on a connection of its own,
// never through the store, so they work on a journal the store would refuse.
import type { FileReport, DoctorReport } from "../report.ts";
import { checkTask } from "../record.ts";
import { asUnavailable, connectOrSay } from "./connection.ts";
import { parsePgLocation } from "./location.ts";
import { checkSchema, migrate, quoteIdent, SCHEMA_VERSION } from "./schema.ts";

/** Creates or upgrades the schema; returns its version before (as found under the migration's lock) and after. */
export async function migratePg(url: string): Promise<{ location: string; schema: string; from: number; to: number }> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    const from = await migrate(client, location.schema);
    return { location: location.shown, schema: location.schema, from, to: SCHEMA_VERSION };
  } catch (error) {
    throw asUnavailable(location, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `bgtask doctor` on PostgreSQL: the schema (version, tables), then every task record read as the store reads it. */
export async function diagnosePg(url: string): Promise<DoctorReport> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    const schema = await checkSchema(client, location.schema);
    const item = (role: FileReport["role"], file: string, problem: string | null, notes: string[]): FileReport => ({
      role,
      file,
      path: `${location.shown} ${file}`,
      status: problem ? "damaged" : "ok",
      problem,
      notes,
    });
    const files = [item("schema", `schema ${location.schema}`, schema.problems.join("; ") || null, [`version ${schema.version}`])];
    const newer = schema.version > SCHEMA_VERSION;
    if (schema.problems.length === 0) {
      let checked = 0;
      let problem: string | null = null;
      // In pages by id, so a deep queue is read a piece at a time.
      for (let after = "0"; problem === null; ) {
        // Ordered by the bigint, not its text (where "10" sorts before "9").
        const rows = await client.query(`select id::text as key, record from ${quoteIdent(location.schema)}.tasks where id > $1 order by tasks.id limit 5000`, [
          after,
        ]);
        if (rows.rows.length === 0) break;
        for (const row of rows.rows) {
          const found = checkTask(row.record);
          if (found) {
            problem = `task ${row.key}: ${found}`;
            break;
          }
          checked += 1;
        }
        after = rows.rows[rows.rows.length - 1].key;
      }
      files.push(item("table", `${location.schema}.tasks`, problem, [`${checked} task${checked === 1 ? "" : "s"} read`]));
    }
    return { home: location.shown, healthy: files.every((f) => f.status === "ok"), files, leftovers: [], newer };
  } catch (error) {
    throw asUnavailable(location, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
