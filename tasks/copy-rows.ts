// A task made of resumable steps (iTop's BackgroundTaskEx shape): collect the work, transfer it in
// slices that pause when their deadline comes, then report. Its state is saved at every pause and
// step boundary, so a tick or worker resumes it where it stopped, also after a crash.
//
//   bgtask run copy-rows rows=500 --follow
//   bgtask run copy-rows rows=5000 failAbove=20 --no-worker   # then: bgtask tick --max-time 5s (repeatedly)
import { appendFileSync } from "node:fs";
import { defineTask } from "bgtask";

interface Context {
  rows?: number;
  /** Pretend batches larger than this fail, to show onError shrinking the batch. */
  failAbove?: number;
  /** Milliseconds a row takes. */
  rowMs?: number;
  /** Append "<row>" lines here for every row copied (tests count duplicates with it). */
  ledger?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default defineTask<Context>({
  slice: "1s",
  retry: { tries: 2, interval: "1s" },
  steps: [
    {
      name: "collect",
      async run(task) {
        task.state.total = task.context.rows ?? 500;
        task.log(`collected ${task.state.total} rows`);
      },
    },
    {
      name: "transfer",
      init(task) {
        task.state.offset ??= 0;
        task.state.batch ??= 50;
      },
      async run(task, { deadline }) {
        const total = task.state.total as number;
        while (Date.now() < deadline) {
          const offset = task.state.offset as number;
          const batch = task.state.batch as number;
          if (offset >= total) return "done";
          if (task.context.failAbove !== undefined && batch > task.context.failAbove) {
            throw new Error(`batch of ${batch} rows is too large for the target`);
          }
          const end = Math.min(total, offset + batch);
          for (let row = offset; row < end; row++) {
            await sleep(task.context.rowMs ?? 2);
            if (task.context.ledger) appendFileSync(task.context.ledger, `${row}\n`);
          }
          task.state.offset = end;
          await task.progress(Math.round((end / total) * 90), `copied ${end} of ${total} rows`);
        }
        return "pause";
      },
      onError(error, task) {
        task.log(`transfer failed with batch ${task.state.batch}: ${error.message}; halving it`);
        task.state.batch = Math.max(1, Math.floor((task.state.batch as number) / 2));
        return "retry";
      },
    },
    {
      name: "report",
      async run(task) {
        await task.attach("summary.json", JSON.stringify({ rows: task.state.total, batch: task.state.batch }));
        await task.progress(100, `copied ${task.state.total} rows in batches of ${task.state.batch}`);
      },
    },
  ],
});
