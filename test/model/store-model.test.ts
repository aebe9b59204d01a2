// Model-based tests of the file journal: fast-check generates sequences of store operations
// (enqueue single, bulk and deep; claim, settle, report, cancel, retry, remove; pause; schedules;
// worker slots; compactions of the journal and of its history; close and reopen), runs each on
// the file journal and the memory store side by side, and after every one compares what a user
// can see (test/model/observe.ts). A failure shrinks to a shortest sequence that still fails,
// printed with the seed and path that replay it.
import { describe, it } from "vitest";
import { HOT_LIMIT } from "../../src/journal/file/store.ts";
import { budget, scaled, STRESS } from "../helpers/stress.ts";
import { checkModel } from "./run.ts";
import { fileSubject, memorySubject } from "./subjects.ts";

/** A hot limit this low sends most sequences' tasks through the cold queue as well. */
const LOW_HOT_LIMIT = 8;

describe("model-based: the file journal against the memory store", () => {
  it(
    "answers and shows what the memory store does, through deep queues, compactions and reopens",
    async () => {
      await checkModel("model file", async () => [memorySubject(), await fileSubject(LOW_HOT_LIMIT)], { runs: scaled(200, 3_000), hotLimit: LOW_HOT_LIMIT });
    },
    budget(120_000, 3_600_000),
  );

  // A sequence takes some 20 s at this depth: npm test covers the same paths with the low limit.
  it.runIf(STRESS)(
    "and so with its real hot limit, past which a bulk enqueue of a thousand tasks waits in the cold queue",
    async () => {
      await checkModel("model file 1000", async () => [memorySubject(), await fileSubject(HOT_LIMIT)], { runs: 10, hotLimit: HOT_LIMIT, startDeep: true });
    },
    3_600_000,
  );
});
