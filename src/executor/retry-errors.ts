// Errors an executor throws on purpose to steer its retries.
export { UnrecoverableError } from "../errors.ts";

/** Fail this try and run the next one after `delayMs` (instead of the policy's interval). */
export class RetryAfter extends Error {
  readonly delayMs: number;
  constructor(delayMs: number, message = `retry after ${delayMs}ms`) {
    super(message);
    this.name = "RetryAfter";
    this.delayMs = delayMs;
  }
}
