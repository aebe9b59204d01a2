// worker/recovery.ts's RecoveryPace: when a worker's claim also judges other workers' tries
// (what the store once decided with ClaimOptions.recoverEveryMs).
import { describe, expect, it } from "vitest";
import { RecoveryPace } from "../../src/worker/recovery.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

describe("RecoveryPace", () => {
  it("recovers on the first claim, then once per interval while claims find work, and on every claim once one found none", () => {
    const pace = new RecoveryPace(1_000);
    expect(pace.due(T0)).toBe(true);
    pace.recovered(T0);
    pace.claimed(1);
    expect(pace.due(at(999))).toBe(false);
    expect(pace.due(at(1_000))).toBe(true);
    pace.claimed(0);
    expect(pace.due(at(1))).toBe(true);
    pace.recovered(at(1));
    expect(pace.due(at(2))).toBe(true);
    pace.claimed(3);
    expect(pace.due(at(2))).toBe(false);
    // A clock set back counts as due.
    expect(pace.due(at(-5_000))).toBe(true);
  });
});
