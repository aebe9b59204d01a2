// The JournalStore and TaskOutput contracts on the memory store.
import { MemoryStore } from "../../src/journal/memory/store.ts";
import { ALL_CAPABILITIES, describeJournalStore } from "./store/index.ts";
import { describeTaskOutput } from "./task-output-contract.ts";

const open = async () => ({ store: new MemoryStore(), dispose: () => undefined });

describeJournalStore("memory store", { open, capabilities: ALL_CAPABILITIES });
describeTaskOutput("memory store", open, { inHome: false, limited: true });
