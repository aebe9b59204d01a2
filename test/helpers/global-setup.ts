// The e2e suites drive the built CLI (bin/bgtask.js → dist/): fail early and clearly without it.
import { existsSync } from "node:fs";

export default function setup(): void {
  if (!existsSync(new URL("../../dist/cli/bgtask.cjs", import.meta.url))) {
    throw new Error("dist/ is missing: run `npm run build` (npm test does it for you)");
  }
}
