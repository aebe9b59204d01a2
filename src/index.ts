// The public API for executor authors: `import { defineTask } from "bgtask"`. Kept free of heavy
// imports, because every executor module loads it.
export { UnrecoverableError, RetryAfter } from "./executor/retry-errors.ts";
export type { RetryInput } from "./core/retry-policy.ts";
export type { TaskApi, TaskDefinition, RunResult, StepDefinition, StepContext, FinishedTask } from "./executor/definition.ts";
export { defineTask } from "./executor/definition.ts";

/**
 * Context types by executor name, for `bgtask/client`: empty here, filled in by the user's own
 * declaration (`declare module "bgtask" { interface Executors { "mail/send": { to: string } } }`).
 * Names not listed keep taking any JSON object.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface users augment (declaration merging); a type alias cannot be
export interface Executors {}
