// graphile-worker 0.17.3 beside bgtask's PostgreSQL journal, on the same database: the yardstick.
// It runs in this process (its workers are a pool of promises in one Node process, as a user runs it),
// in a schema of its own, with a no-op task. Figures are taken as bgtask's are: a drain from the
// first handler start to the last handler end, and latency from just before the job is added to
// its handler's start.
import { Logger, makeWorkerUtils, run } from "graphile-worker";

const quiet = new Logger(() => () => undefined);

/** The default settings, and the batched ones graphile's docs tune for throughput. */
export const GRAPHILE_SHAPES = {
  default: {},
  batched: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
};

async function withUtils(connectionString, schema, body) {
  const utils = await makeWorkerUtils({ connectionString, schema, logger: quiet });
  try {
    await utils.migrate();
    return await body(utils);
  } finally {
    await utils.release();
  }
}

function startRunner(connectionString, schema, concurrency, shape, noop) {
  return run({
    connectionString,
    schema,
    concurrency,
    noHandleSignals: true,
    logger: quiet,
    taskList: { noop },
    preset: { worker: { ...shape } },
  });
}

/** Tasks/s for `count` jobs added before the runner starts, drained at `concurrency`; each awaits `job` (default: nothing). */
export async function graphileDrain({ connectionString, schema, count, concurrency, shape, timeoutMs, job = () => Promise.resolve() }) {
  return withUtils(connectionString, schema, async (utils) => {
    for (let at = 0; at < count; at += 1_000) {
      await utils.addJobs(Array.from({ length: Math.min(1_000, count - at) }, (_, i) => ({ identifier: "noop", payload: { n: at + i } })));
    }
    let first = 0;
    let last = 0;
    let done = 0;
    let finish;
    const finished = new Promise((resolve) => {
      finish = resolve;
    });
    const runner = await startRunner(connectionString, schema, concurrency, shape, async () => {
      if (first === 0) first = performance.now();
      await job();
      last = performance.now();
      if (++done === count) finish();
    });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`graphile-worker ran only ${done} of ${count} jobs in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([finished, timeout]);
    } finally {
      clearTimeout(timer);
      await runner.stop();
    }
    return count / ((last - first) / 1000);
  });
}

/** Milliseconds from just before each of `reps` jobs is added to its handler's start, the runner waiting idle. */
export async function graphileLatency({ connectionString, schema, reps }) {
  return withUtils(connectionString, schema, async (utils) => {
    let started = null;
    const runner = await startRunner(connectionString, schema, 2, GRAPHILE_SHAPES.default, async () => {
      started?.(performance.now());
    });
    const latencies = [];
    try {
      for (let i = 0; i < reps; i++) {
        const start = new Promise((resolve, reject) => {
          started = resolve;
          setTimeout(() => reject(new Error("a graphile-worker job did not start within 10 s")), 10_000).unref();
        });
        const before = performance.now();
        await utils.addJob("noop", {});
        latencies.push((await start) - before);
      }
    } finally {
      await runner.stop();
    }
    return latencies;
  });
}
