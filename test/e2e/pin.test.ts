// `run --on HOST` on every journal, from one host: a task pinned to another host is stored with its
// pin, waits queued (status, list and wait say for whom), starts no worker here and keeps its pin
// through a retry; one pinned to this host runs. Bad hosts are refused before anything is written.
// postgres-scaling.test.ts runs pinned tasks on several hosts.
import { hostname } from "node:os";
import { expect, it, onTestFinished } from "vitest";
import { createClient, UsageError } from "../../dist/client/index.js";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";

describeOnJournals("run --on HOST", () => {
  it("a task pinned to another host waits queued, says for whom, starts no worker, keeps its pin through a retry; one pinned here runs", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const stored = await project.cli(["run", "noop", "--on", "elsewhere-01", "--json"]);
    expect(stored.code, stored.stderr).toBe(0);
    const away = JSON.parse(stored.stdout);
    expect(away).toMatchObject({ status: "queued", pinnedHost: "elsewhere-01" });
    expect(JSON.parse((await project.cli(["workers", "--json"])).stdout)).toEqual([]);
    expect((await project.cli(["status", away.id])).stdout).toMatch(/^status\s+queued \(waits for a worker on host elsewhere-01\)$/m);
    expect((await project.cli(["list"])).stdout).toMatch(new RegExp(`^${away.id}\\s+noop\\s+queued .*waits for a worker on host elsewhere-01`, "m"));

    const here = await project.run("noop", ["--on", hostname()]);
    expect(await project.waitForTask(here, (t) => t.status === "succeeded")).toMatchObject({ pinnedHost: hostname() });
    expect(await project.status(away.id)).toMatchObject({ status: "queued", tries: 0 });
    const waited = await project.cli(["wait", away.id, "--timeout", "1s"]);
    expect(waited.code).toBe(124);
    expect(waited.stderr).toContain(`${away.id} waits for a worker on host elsewhere-01 (run --on): this host (${hostname()}) does not claim it`);

    // The worker that ran it retires, though a task pinned elsewhere waits: that is not its work.
    const workers = async () => JSON.parse((await project.cli(["workers", "--json"])).stdout) as unknown[];
    await waitFor(
      async () => (await workers()).length === 0,
      30_000,
      () => "the worker stayed for a task pinned to another host",
    );
    expect((await project.cli(["cancel", away.id])).code).toBe(0);
    expect((await project.cli(["retry", away.id])).code).toBe(0);
    expect(await project.status(away.id)).toMatchObject({ status: "queued", pinnedHost: "elsewhere-01" });
    // A worker started would have its slot from the retry's own transaction.
    expect(await workers()).toEqual([]);
  });

  it("a bad host is refused with exit 2 and one sentence (--json: the error object), nothing written; the client refuses it too", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    expect((await project.cli(["run", "noop", "--no-worker"])).code).toBe(0);
    const before = project.journalRev();
    const refused = await project.cli(["run", "noop", "--on", "a b", "--json"]);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toEqual({ error: { code: "EUSAGE", message: expect.stringMatching(/^--on "a b" is not a host name/) } });
    const bg = createClient(project.clientFlags);
    onTestFinished(() => bg.close());
    await expect(bg.run("noop", {}, { on: "" })).rejects.toThrow(UsageError);
    await expect(bg.run("noop", {}, { on: "" })).rejects.toThrow(/^on "" is not a host name/);
    expect(project.journalRev()).toBe(before);
    expect(await bg.run("noop", {}, { on: "build-01.example.com", worker: false })).toMatchObject({ pinnedHost: "build-01.example.com" });
  });
});
