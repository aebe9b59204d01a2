// The JournalStore contract on the file journal, in a temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/journal/open.ts";
import { describeJournalStore } from "./journal-store-contract.ts";

describeJournalStore("file store", async () => {
  const root = mkdtempSync(join(tmpdir(), "bgtask-contract-"));
  return {
    store: await openStore(join(root, "home"), { staleMs: 2_000, waitMs: 10_000 }),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
});
