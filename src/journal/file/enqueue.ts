// What an enqueue on the file journal stores: new tasks, numbered from the journal's next id, and
// for each input with a key the task it found (replaced, with `replace`) instead of a new one.
import { maxTriesOf } from "../../core/retry-policy.ts";
import { createTask, type NewTask, type TaskRecord } from "../../core/task.ts";
import { afterDependencies, findKeyed, type KeyOutcome, replaceKeyed } from "../../core/transitions.ts";
import type { JournalDoc } from "./schema.ts";

/**
 * The tasks to create for `inputs`, and per input the task stored or found by its key (a task of the
 * active set it replaces is written through `putActive`). Each new task is told to `onCreated` as it
 * is made, before a later input with its key may replace it. Tasks with
 * a key are never cold (sortsById), so the active set and this call's own tasks are where a
 * key's task is found.
 */
export function storeInputs(
  doc: JournalDoc,
  putActive: (task: TaskRecord) => void,
  onCreated: (task: TaskRecord) => void,
  inputs: readonly NewTask[],
  now: Date,
  dependencies: ReadonlyMap<string, TaskRecord>,
): { created: TaskRecord[]; stored: TaskRecord[]; outcomes: KeyOutcome[] } {
  const created: TaskRecord[] = [];
  const stored: TaskRecord[] = [];
  const outcomes: KeyOutcome[] = [];
  const keyedInputs = inputs.some((input) => input.key !== undefined && input.key !== null);
  for (const input of inputs) {
    const keyed = keyedInputs ? (findKeyed(created, input) ?? findKeyed(doc.tasks, input)) : undefined;
    if (keyed) {
      const { task, outcome } = replaceKeyed(keyed, input, now);
      if (task !== keyed) {
        const at = created.indexOf(keyed);
        if (at === -1) putActive(task);
        else created[at] = task;
        for (const [i, other] of stored.entries()) if (other === keyed) stored[i] = task;
      }
      stored.push(task);
      outcomes.push(outcome);
      continue;
    }
    const fresh = createTask(String(doc.nextId++), input, now, maxTriesOf(input.retry));
    const after = (input.after ?? []).map((id) => dependencies.get(id)!);
    const task = after.length > 0 ? afterDependencies(fresh, after, now) : fresh;
    onCreated(task);
    created.push(task);
    stored.push(task);
    outcomes.push("created");
  }
  return { created, stored, outcomes };
}
