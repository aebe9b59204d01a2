// The single decision about color and animation, made once at startup: chalk, ora and our own
// output all follow it. chalk alone ignores NO_COLOR, and ora ignores pipes only partly.
// chalk itself is not loaded here (paint.ts applies the decision), so commands that print no
// colour, like `run`, never pay for it.

export interface OutputMode {
  /** Off or on when a flag, NO_COLOR or --json says so; undefined leaves it to chalk's detection (TTY, FORCE_COLOR, TERM). */
  color: boolean | undefined;
  /** Spinners and redraws: only for a person at a terminal. */
  interactive: boolean;
}

let mode: OutputMode = { color: undefined, interactive: false };

export function decideOutput(options: { json?: boolean; color?: boolean }, env = process.env): OutputMode {
  const noColor = "NO_COLOR" in env && env.NO_COLOR !== "" && !("FORCE_COLOR" in env);
  const color = options.color === false || noColor || options.json === true ? false : options.color === true ? true : undefined;
  const interactive = Boolean(process.stderr.isTTY) && env.TERM !== "dumb" && !("CI" in env) && !options.json;
  mode = { color, interactive };
  return mode;
}

export function outputMode(): OutputMode {
  return mode;
}
