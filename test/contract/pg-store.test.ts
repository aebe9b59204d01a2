// The JournalStore and TaskOutput contracts on PostgreSQL, each test in a fresh schema of the
// database BGTASK_TEST_PG names (.ci/run starts a private cluster and sets it); skipped without one.
import pg from "pg";
import { describe } from "vitest";
import { openStore } from "../../src/journal/open.ts";
import { ALL_CAPABILITIES, describeJournalStore, type OpenedStore } from "./store/index.ts";
import { describeTaskOutput } from "./task-output-contract.ts";

const url = process.env.BGTASK_TEST_PG;
let n = 0;

async function open(): Promise<OpenedStore> {
  const schema = `contract_${process.pid}_${++n}`;
  const location = `${url}${url!.includes("?") ? "&" : "?"}schema=${schema}`;
  return {
    store: await openStore(location, { staleMs: 2_000, waitMs: 10_000 }),
    dispose: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

describe.skipIf(!url)("on the PostgreSQL database BGTASK_TEST_PG names", () => {
  describeJournalStore("postgres store", { open, capabilities: ALL_CAPABILITIES });
  describeTaskOutput("postgres store", open, { inHome: false, limited: true });
});
