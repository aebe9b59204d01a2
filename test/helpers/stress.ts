// Scale for the reliability suites: small counts by default, the catalogue's counts under
// BGTASK_STRESS=1 (`npm run stress`), a logged seed so a failing random run can be replayed
// (BGTASK_SEED=<n>), and a one-line summary of what each test tried and what held.
export const STRESS = process.env.BGTASK_STRESS === "1";

/** `normal` in the default suite, `stress` under `npm run stress`. */
export function scaled(normal: number, stress: number): number {
  return STRESS ? stress : normal;
}

/** A per-test timeout that grows with the stress counts. */
export function budget(normalMs: number, stressMs: number): number {
  return STRESS ? stressMs : normalMs;
}

/** A seeded generator (mulberry32): the seed is printed so a failure can be replayed. */
export function seededRandom(label: string): () => number {
  let seed = process.env.BGTASK_SEED ? Number(process.env.BGTASK_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${label}] seed ${seed} (replay with BGTASK_SEED=${seed})`);
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a reliability test tried and what held, printed so `npm run stress` reads as a report. */
export function summary(label: string, text: string): void {
  console.log(`[${label}] ${text}`);
}
