// The PostgreSQL store's connection (src/journal/postgres/connection.ts) with its connection cut
// during COMMIT, through a relay that drops the client's side on seeing the COMMIT: after the
// server made the commit, the operation's result stands and it is not run again (the commit token
// says so); before the server saw it, the operation runs again, once; and a COMMIT that reaches the
// server late, after the client asked for its token, finds its server process ended. Each way the
// change is there exactly once.
import { connect as connectTcp, createServer, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectOrSay, PgConnection } from "../../src/journal/postgres/connection.ts";
import { parsePgLocation } from "../../src/journal/postgres/location.ts";
import { migrate, quoteIdent } from "../../src/journal/postgres/schema.ts";

const url = process.env.BGTASK_TEST_PG;
const COMMIT = Buffer.from("commit\0");

type Cut = "after-server-committed" | "before-server-saw-it" | "delivered-after-the-check";
const TOKEN_CHECK = Buffer.from("commits where token");

/**
 * A relay to the database that cuts the client's connection at the next COMMIT once armed. With
 * "delivered-after-the-check" it holds that COMMIT and hands it to the server only once the
 * client has asked, on a new connection, whether its commit was made, and had the answer: a
 * COMMIT that arrives late.
 * `settled` resolves once the held COMMIT was answered, or found its server process gone.
 */
async function commitCuttingRelay(target: URL): Promise<{ port: number; arm(cut: Cut): void; cuts(): number; settled(): Promise<void> }> {
  let armed: Cut | null = null;
  let cuts = 0;
  let held: { deliver(): void; done: Promise<void> } | null = null;
  const server = createServer((client: Socket) => {
    const upstream = connectTcp(Number(target.port), target.hostname);
    let cutting = false;
    let upstreamGone = false;
    client.on("data", (chunk: Buffer) => {
      if (armed !== null && chunk.includes(COMMIT)) {
        const cut = armed;
        armed = null;
        cuts += 1;
        cutting = true;
        client.destroy();
        if (cut === "before-server-saw-it") upstream.destroy();
        else if (cut === "delivered-after-the-check") {
          const done = new Promise<void>((resolve) => {
            upstream.once("close", () => resolve());
            upstream.once("data", () => resolve());
          });
          held = { deliver: () => (upstreamGone ? undefined : upstream.write(chunk)), done };
        }
        // The server's answer to the COMMIT proves it was made; only then is its side closed.
        else upstream.write(chunk, () => upstream.once("data", () => upstream.destroy()));
        return;
      }
      if (held !== null && chunk.includes(TOKEN_CHECK)) {
        // The client asks, is told, and only then does the late COMMIT reach the server.
        const late = held;
        upstream.once("data", () => late.deliver());
      }
      upstream.write(chunk);
    });
    upstream.on("close", () => (upstreamGone = true));
    upstream.on("data", (chunk) => {
      if (!cutting) client.write(chunk);
    });
    client.on("error", () => undefined).on("close", () => cutting || upstream.destroy());
    upstream.on("error", () => client.destroy()).on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as { port: number }).port,
    arm: (cut) => (armed = cut),
    cuts: () => cuts,
    settled: () => held?.done ?? Promise.resolve(),
  };
}

describe.skipIf(!url)("PostgreSQL connection: a commit cut off", () => {
  async function setUp(): Promise<{ db: PgConnection; relay: Awaited<ReturnType<typeof commitCuttingRelay>>; count: () => Promise<number>; table: string }> {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    onTestFinished(async () => {
      await direct.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
      await direct.end();
    });
    await migrate(direct, schema);
    const table = `${quoteIdent(schema)}.made`;
    await direct.query(`create table ${table} (n int)`);
    const target = new URL(url!);
    const relay = await commitCuttingRelay(target);
    const relayed = new URL(url!);
    relayed.host = `127.0.0.1:${relay.port}`;
    relayed.searchParams.set("schema", schema);
    const where = parsePgLocation(relayed.toString());
    const db = new PgConnection(where, await connectOrSay(where), 10_000, {
      reconnected: async () => undefined,
      lost: () => undefined,
      notification: () => undefined,
    });
    onTestFinished(() => db.close());
    const count = async () => Number((await direct.query(`select count(*)::int as n from ${table}`)).rows[0].n);
    return { db, relay, count, table };
  }

  /** Inserts a row in one transaction whose COMMIT the relay cuts as `cut` says: the result, how often the operation ran, and the rows made. */
  async function insertCut(cut: Cut): Promise<{ result: string; runs: number; rows: number }> {
    const { db, relay, count, table } = await setUp();
    let runs = 0;
    relay.arm(cut);
    const result = await db.transaction(
      async () => {
        runs += 1;
        await db.query(`insert into ${table} (n) values (1)`);
        return "made";
      },
      true,
      { channel: "bgtask_test", payload: () => null },
    );
    expect(relay.cuts()).toBe(1);
    await relay.settled();
    return { result, runs, rows: await count() };
  }

  it("cut after the server made the commit: the result stands and the operation ran once", async () => {
    expect(await insertCut("after-server-committed")).toEqual({ result: "made", runs: 1, rows: 1 });
  });

  it("cut before the server saw the COMMIT: nothing was made, so the operation runs again, once", async () => {
    expect(await insertCut("before-server-saw-it")).toEqual({ result: "made", runs: 2, rows: 1 });
  });

  it("a COMMIT that reaches the server after the client asked whether it was made: the old server process is ended first, so the change is made once", async () => {
    expect(await insertCut("delivered-after-the-check")).toEqual({ result: "made", runs: 2, rows: 1 });
  });
});
