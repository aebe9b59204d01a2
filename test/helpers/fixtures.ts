// Executor sources shared by the suites, read from test/fixtures/tasks.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./project.ts";

export function fixture(name: string): string {
  return readFileSync(join(REPO, "test/fixtures/tasks", name), "utf8");
}
