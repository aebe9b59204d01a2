// The model-based test of test/model/store-model.test.ts on the PostgreSQL journal, each sequence
// in a fresh schema of the database BGTASK_TEST_PG names; skipped without one. Fewer sequences: a
// command is a few round trips to the database for each read.
import { describe, it } from "vitest";
import { budget, scaled } from "../helpers/stress.ts";
import { checkModel } from "./run.ts";
import { memorySubject, pgSubject } from "./subjects.ts";

const url = process.env.BGTASK_TEST_PG;
/** The deep enqueues' size: PostgreSQL keeps no cold queue, so any bulk will do. */
const DEEP = 8;

describe.skipIf(!url)("model-based: the PostgreSQL journal against the memory store", () => {
  it(
    "answers and shows what the memory store does, through reopens",
    async () => {
      await checkModel("model postgres", async () => [memorySubject(), await pgSubject(url!)], { runs: scaled(25, 400), hotLimit: DEEP });
    },
    budget(180_000, 3_600_000),
  );
});
