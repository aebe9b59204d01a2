// chalk, set to the decision of color.ts: what every coloured view imports instead of chalk. Only
// commands reach it (they are imported after the decision), so it applies the decision on load.
import chalk from "chalk";
import { outputMode } from "./color.ts";

const { color } = outputMode();
if (color === false) chalk.level = 0;
else if (color === true && chalk.level === 0) chalk.level = 1;

export { chalk };
