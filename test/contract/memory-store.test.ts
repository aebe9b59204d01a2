// The JournalStore contract on the memory store.
import { MemoryStore } from "../../src/journal/memory/store.ts";
import { describeJournalStore } from "./journal-store-contract.ts";

describeJournalStore("memory store", async () => ({ store: new MemoryStore(), dispose: () => undefined }));
