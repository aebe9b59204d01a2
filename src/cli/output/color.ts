// The single decision about color and animation, made once at startup: chalk, ora and our own
// output all follow it. chalk alone ignores NO_COLOR, and ora ignores pipes only partly.
import chalk from "chalk";

export interface OutputMode {
  color: boolean;
  /** Spinners and redraws: only for a person at a terminal. */
  interactive: boolean;
}

let mode: OutputMode = { color: false, interactive: false };

export function decideOutput(options: { json?: boolean; color?: boolean }, env = process.env): OutputMode {
  const noColor = "NO_COLOR" in env && env.NO_COLOR !== "" && !("FORCE_COLOR" in env);
  const color = options.color === false || noColor || options.json === true ? false : options.color === true || chalk.level > 0;
  if (!color) chalk.level = 0;
  else if (chalk.level === 0) chalk.level = 1;
  const interactive = Boolean(process.stderr.isTTY) && env.TERM !== "dumb" && !("CI" in env) && !options.json;
  mode = { color, interactive };
  return mode;
}

export function outputMode(): OutputMode {
  return mode;
}
