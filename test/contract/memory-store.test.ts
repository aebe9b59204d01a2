// The JournalStore contract on the memory store.
import { MemoryStore } from "../../src/journal/memory-store.ts";
import { ALL_CAPABILITIES, describeJournalStore } from "./store/index.ts";

describeJournalStore("memory store", { open: async () => ({ store: new MemoryStore(), dispose: () => undefined }), capabilities: ALL_CAPABILITIES });
