// How a worker or a tick judges another process's tries: the same rules for both.
import type { Config } from "../config/config.ts";
import { lastBeat, startedTask } from "../host/beat.ts";
import { liveness, terminate } from "../host/process-identity.ts";
import type { RecoverOptions } from "../journal/store.ts";

export function recoverOptions(config: Config): RecoverOptions {
  return {
    liveness,
    terminate,
    heartbeatTimeoutMs: config.timings.heartbeatTimeoutMs,
    graceMs: config.timings.cancelGraceMs,
    lastBeat: lastBeat(config.home),
    startedTask: startedTask(config.home),
  };
}
