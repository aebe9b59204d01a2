// The JournalStore and TaskOutput contracts on the file journal, in a temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/journal/open.ts";
import { ALL_CAPABILITIES, describeJournalStore, type OpenedStore } from "./store/index.ts";
import { describeTaskOutput } from "./task-output-contract.ts";

async function open(): Promise<OpenedStore> {
  const root = mkdtempSync(join(tmpdir(), "bgtask-contract-"));
  return {
    store: await openStore(join(root, "home"), { staleMs: 2_000, waitMs: 10_000 }),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

describeJournalStore("file store", { open, capabilities: ALL_CAPABILITIES });
describeTaskOutput("file store", open, { inHome: true, limited: false });
