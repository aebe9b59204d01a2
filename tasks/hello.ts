// The quick-start sample: counts to `steps` (default 5), reporting progress as it goes.
import { defineTask } from "bgtask";

export default defineTask<{ name?: string; steps?: number; delayMs?: number }>({
  async run(task) {
    const name = task.context.name ?? "world";
    const steps = task.context.steps ?? 5;
    const delayMs = task.context.delayMs ?? 200;
    for (let i = 1; i <= steps; i++) {
      if (task.signal.aborted) throw new Error("stopped");
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await task.progress((i / steps) * 100, `step ${i} of ${steps}`);
      console.log(`hello ${name}: step ${i}`);
    }
    return { message: `said hello to ${name} in ${steps} steps`, result: { name, steps } };
  },
});
