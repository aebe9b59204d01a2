// Why a try's `task.signal` was aborted: the signal's `reason`, which executors may read, and which
// decides how a try that then throws is recorded.
export const AbortReason = {
  /** `bgtask cancel`: the task ends `cancelled`, never retried. */
  cancelled: "cancelled",
  /** The definition's (or config's) timeout passed: a failed try, retried by the policy. */
  timeout: "timeout",
  /** The worker was asked to stop (SIGTERM) and its grace period ran out: a failed try, retried. */
  shutdown: "shutdown",
  /** This try was taken away from a worker presumed dead: its outcome is discarded. */
  leaseLost: "lease lost",
} as const;

export type AbortReason = (typeof AbortReason)[keyof typeof AbortReason];
