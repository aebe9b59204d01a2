// The JournalStore contract: one suite that every store passes (the file journal, the memory
// store, PostgreSQL). Each store runs it from its own small .test.ts file through
// describeJournalStore(name, factory). It covers every method of the store, and the rules from
// core/ as a store applies them, one file per area. The areas every store must pass run always;
// the others run on a store whose factory declares the capability, and show as skipped, with the
// reason, on one that does not.
import { afterEach, describe } from "vitest";
import type { JournalStore } from "../../../src/journal/store.ts";
import { changesTests } from "./changes.ts";
import { claimsTests } from "./claims.ts";
import { controlTests } from "./control.ts";
import { countersTests } from "./counters.ts";
import { deepQueueTests } from "./deep-queue.ts";
import { enqueueTests } from "./enqueue.ts";
import { eventsTests } from "./events.ts";
import { hostsTests } from "./hosts.ts";
import { importTests } from "./import.ts";
import { queueControlsTests } from "./queue-controls.ts";
import { readsTests } from "./reads.ts";
import { recoveryTests } from "./recovery.ts";
import { schedulesTests } from "./schedules.ts";
import type { OpenedStore, StoreSuite } from "./shared.ts";
import { tickMutexTests } from "./tick-mutex.ts";
import { workersTests } from "./workers.ts";

export type { OpenedStore } from "./shared.ts";

/** What a store may lack and still be a store: the areas of the contract beyond the core ones. */
export const ALL_CAPABILITIES = ["change-feed", "tick-mutex", "pinned-hosts", "schedules", "queue-controls", "deep-queue", "import"] as const;
export type Capability = (typeof ALL_CAPABILITIES)[number];

export interface StoreFactory {
  /** A fresh store, empty. */
  open(): Promise<OpenedStore>;
  /** The areas beyond the core ones that this store passes. */
  capabilities: readonly Capability[];
}

const AREAS: ReadonlyArray<{ title: string; tests: (suite: StoreSuite) => void; needs?: Capability }> = [
  { title: "enqueue", tests: enqueueTests },
  { title: "reading tasks", tests: readsTests },
  { title: "claims and tries", tests: claimsTests },
  { title: "recovery", tests: recoveryTests },
  { title: "workers", tests: workersTests },
  { title: "cancel, retry and remove", tests: controlTests },
  { title: "counters", tests: countersTests },
  { title: "events", tests: eventsTests },
  { title: "change watching", tests: changesTests, needs: "change-feed" },
  { title: "the tick mutex", tests: tickMutexTests, needs: "tick-mutex" },
  { title: "pinned hosts", tests: hostsTests, needs: "pinned-hosts" },
  { title: "fireSchedules", tests: schedulesTests, needs: "schedules" },
  { title: "queue controls", tests: queueControlsTests, needs: "queue-controls" },
  { title: "a deep queue", tests: deepQueueTests, needs: "deep-queue" },
  { title: "importTasks", tests: importTests, needs: "import" },
];

export function describeJournalStore(name: string, factory: StoreFactory): void {
  describe(`JournalStore contract: ${name}`, () => {
    let opened: OpenedStore | null = null;
    const suite: StoreSuite = {
      async fresh(): Promise<JournalStore> {
        opened = await factory.open();
        return opened.store;
      },
    };
    afterEach(async () => {
      await opened?.store.close();
      await opened?.dispose();
      opened = null;
    });
    for (const { title, tests, needs } of AREAS) {
      if (needs === undefined || factory.capabilities.includes(needs)) describe(title, () => tests(suite));
      else describe.skip(`${title} (skipped: the ${name} does not declare the capability "${needs}")`, () => tests(suite));
    }
  });
}
