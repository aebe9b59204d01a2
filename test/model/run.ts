// Runs generated command sequences on a set of stores (see commands.ts), with the seed printed
// and taken from BGTASK_SEED to replay a failure.
import fc from "fast-check";
import { summary } from "../helpers/stress.ts";
import { commandArbitraries, deepEnqueue, initialModel } from "./commands.ts";
import type { Subject } from "./subjects.ts";

/** Commands in a sequence, at most: enough to build a few tasks up and take them through their lives. */
const MAX_COMMANDS = 40;

/**
 * Runs `runs` sequences, each on fresh stores from `open` (the reference first); fails with the
 * shrunk sequence. `startDeep`: each starts with a deep enqueue (not shrunk away, and not printed
 * in the counterexample; the trace in the error shows it).
 */
export async function checkModel(
  label: string,
  open: () => Promise<Subject[]>,
  options: { runs: number; hotLimit: number; startDeep?: boolean },
): Promise<void> {
  const seed = process.env.BGTASK_SEED ? Number(process.env.BGTASK_SEED) : Math.floor(Math.random() * 2 ** 31);
  summary(label, `seed ${seed} (replay with BGTASK_SEED=${seed})`);
  let sequences = 0;
  let commands = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commandArbitraries({ hotLimit: options.hotLimit }), { maxCommands: MAX_COMMANDS, size: "+1" }), async (cmds) => {
      const subjects = await open();
      try {
        const start = options.startDeep ? [deepEnqueue(options.hotLimit)] : [];
        await fc.asyncModelRun(() => ({ model: initialModel(), real: { subjects, trace: [] } }), [...start, ...cmds]);
        sequences += 1;
        commands += [...cmds].length;
      } finally {
        for (const subject of subjects) await subject.dispose();
      }
    }),
    { numRuns: options.runs, seed },
  );
  summary(label, `${sequences} sequences of ${commands} commands in all: every store agreed after every command`);
}
