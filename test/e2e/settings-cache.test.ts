// `run` remembers an executor's settings per file (so it need not import the module each time)
// and notices when the file changes.
import { describe, expect, it, onTestFinished } from "vitest";
import { useProject } from "../helpers/project.ts";

const withRetry = (tries: number, marker: string) => `
  import { defineTask } from "bgtask";
  // ${marker}
  export default defineTask({ retry: ${tries}, run() {} });`;

describe("executor settings cache", () => {
  it("uses the settings of the file as it is now, and refuses it once it no longer loads", async () => {
    const project = useProject(onTestFinished, { tasks: { "job.ts": withRetry(1, "first") } });
    const first = await project.run("job", ["--no-worker"]);
    expect((await project.status(first)).maxTries).toBe(2);
    project.writeTask("job.ts", withRetry(4, "second version, a different size"));
    const second = await project.run("job", ["--no-worker"]);
    expect((await project.status(second)).maxTries).toBe(5);
    project.writeTask("job.ts", "export default {{ not javascript");
    const broken = await project.cli(["run", "job", "--no-worker"]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/executor "job" .* cannot be used: it has a syntax error at .*\/tasks\/job\.ts:1:\d+: /);
  });
});
