// How long a task has left, from the recent rate of its progress. Pure: the caller keeps the
// samples (when it saw which percent) and passes `now`.

export interface ProgressSample {
  at: number;
  progress: number;
}

/** The rate is measured over about this much recent time, so an early slow phase is forgotten. */
const WINDOW_MS = 20_000;
/** Below this span the rate is noise. */
const MIN_SPAN_MS = 1_000;

/** Adds what was seen at `at`; a percent that went back (a new try) starts the series again. */
export function addSample(samples: readonly ProgressSample[], sample: ProgressSample): ProgressSample[] {
  const last = samples.at(-1);
  if (last && sample.progress === last.progress) return [...samples];
  if (last && sample.progress < last.progress) return [sample];
  const recent = samples.filter((s) => sample.at - s.at <= WINDOW_MS);
  // Keep one sample from before the window as the anchor, so slow reporters still get a rate.
  const anchor = samples.filter((s) => sample.at - s.at > WINDOW_MS).at(-1);
  return [...(anchor ? [anchor] : []), ...recent, sample];
}

/** Milliseconds left at `now`, or null when there is no trustworthy rate yet. */
export function estimateRemainingMs(samples: readonly ProgressSample[], now: number): number | null {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.at - first.at < MIN_SPAN_MS || last.progress >= 100) return null;
  const rate = (last.progress - first.progress) / (last.at - first.at);
  if (rate <= 0) return null;
  const remaining = (100 - last.progress) / rate - (now - last.at);
  // Past the estimate without news: say nothing rather than a stuck "0s".
  return remaining > 0 ? remaining : null;
}
