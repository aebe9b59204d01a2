// Prometheus output: a real Prometheus scraping `bgtask metrics` with a token file while tasks run,
// its query API returning the journal's counters, `promtool check metrics` on `bgtask stats
// --format prometheus`, counters left alone by `remove --finished`; the endpoint's token, its
// loopback-only default, and `/metrics` on `bgtask ui`. On both journals.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { cookieFor, http, startUi } from "../helpers/dashboard.ts";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, type Project, useProject, waitFor } from "../helpers/project.ts";
import { hasPrometheus, PROMTOOL, type RunningPrometheus, requirePrometheusUnderCi, startMetrics, startPrometheus } from "../helpers/prometheus.ts";

const TASKS = {
  "ok.js": fixture("noop.js"),
  "slow.ts": fixture("slow.ts"),
  "fails.js": `export default (await import("bgtask")).defineTask({ async run() { throw new Error("fails on purpose"); } });`,
  "flaky.js": `export default (await import("bgtask")).defineTask({
    retry: 1,
    async run(task) {
      if (task.tries === 1) throw new Error("try 1 fails on purpose");
      return { message: "ok on try 2" };
    },
  });`,
};

/** A project whose config names a token file, written with a fresh token. */
function projectWithToken(options: { tasks?: Record<string, string> } = {}): { project: Project; token: string; tokenFile: string } {
  const project = useProject(onTestFinished, { ...options, config: { metrics: { tokenFile: "metrics-token" } } });
  const token = randomBytes(16).toString("hex");
  const tokenFile = join(project.dir, "metrics-token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return { project, token, tokenFile };
}

/** A query's answer as `by`'s name of each series → its value, sorted by name, series of 0 left out. */
async function byLabel(prometheus: RunningPrometheus, expression: string, by: (metric: Record<string, string>) => string): Promise<Record<string, number>> {
  const series = await prometheus.query(expression);
  const entries = series.filter((s) => s.value !== 0).map((s) => [by(s.metric), s.value] as const);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}

const executorOf = (metric: Record<string, string>) => metric.executor!;

/** The counters' sample lines of an exposition: what removal and retention must leave alone. */
function counterLines(exposition: string): string[] {
  return exposition.split("\n").filter((line) => /^bgtask_(tasks_\w+_total|task_(wait|run)_seconds_\w+)\{/.test(line));
}

describe.skipIf(!hasPrometheus() && process.env.CI !== "true")("a real Prometheus", () => {
  beforeAll(() => requirePrometheusUnderCi());

  describeOnJournals("scraping bgtask metrics", () => {
    it("reads the counters through its query API while tasks run; promtool accepts the exposition; remove --finished leaves the counters alone", async () => {
      const { project, tokenFile } = projectWithToken({ tasks: TASKS });
      const metrics = await startMetrics(project, onTestFinished);
      const prometheus = await startPrometheus(onTestFinished, { address: new URL(metrics.url).host, credentialsFile: tokenFile });

      const slow = await project.run("slow", ["ms=60000"]);
      await project.waitForTask(slow, (t) => t.status === "running");
      const seen = async (expression: string, expected: Record<string, number>, by = executorOf) => {
        let last: Record<string, number> = {};
        await waitFor(
          async () => JSON.stringify((last = await byLabel(prometheus, expression, by))) === JSON.stringify(expected),
          30_000,
          () => `${expression}: expected ${JSON.stringify(expected)}, Prometheus has ${JSON.stringify(last)}; its log: ${prometheus.output()}`,
          250,
        );
      };
      await seen('up{job="bgtask"}', { bgtask: 1 }, (metric) => metric.job!);
      await seen('bgtask_tasks{status="running"}', { slow: 1 });

      const ids = [...(await Promise.all(["ok", "ok", "ok", "fails", "fails"].map((executor) => project.run(executor)))), await project.run("flaky")];
      for (const id of ids) await project.waitForTask(id, (t) => t.completed);
      expect((await project.cli(["cancel", slow])).code).toBe(0);
      await project.waitForTask(slow, (t) => t.completed);

      const finished = (metric: Record<string, string>) => `${metric.executor}/${metric.status}`;
      const counters = {
        bgtask_tasks_finished_total: { "fails/failed": 2, "flaky/succeeded": 1, "ok/succeeded": 3, "slow/cancelled": 1 },
        bgtask_tasks_enqueued_total: { fails: 2, flaky: 1, ok: 3, slow: 1 },
        bgtask_tasks_started_total: { fails: 2, flaky: 2, ok: 3, slow: 1 },
        bgtask_tasks_retried_total: { flaky: 1 },
        bgtask_task_run_seconds_count: { fails: 2, flaky: 2, ok: 3, slow: 1 },
        bgtask_task_wait_seconds_count: { fails: 2, flaky: 2, ok: 3, slow: 1 },
      };
      for (const [name, expected] of Object.entries(counters)) await seen(name, expected, name === "bgtask_tasks_finished_total" ? finished : executorOf);
      await seen("sum(bgtask_tasks_retained) by (executor)", { fails: 2, flaky: 1, ok: 3, slow: 1 });
      // The slow try ran for a while: its run is in a bucket above 5 ms, and the quantile query of the docs answers.
      await seen('bgtask_task_run_seconds_bucket{executor="slow",le="0.005"}', {});
      expect(await prometheus.query("histogram_quantile(0.95, sum by (le, executor) (rate(bgtask_task_wait_seconds_bucket[1m])))")).not.toEqual([]);

      // As printed, final newline included: the format requires it.
      const before = await project.cli(["stats", "--format", "prometheus"], { stripFinalNewline: false });
      expect(before.code, before.stderr).toBe(0);
      const lint = await execa(PROMTOOL, ["check", "metrics"], { input: before.stdout, reject: false });
      expect(lint.exitCode, `${lint.stdout}${lint.stderr}`).toBe(0);

      expect((await project.cli(["remove", "--finished", "--yes"])).code).toBe(0);
      const after = await project.cli(["stats", "--format", "prometheus"]);
      expect(counterLines(after.stdout)).toEqual(counterLines(before.stdout));
      expect(after.stdout).not.toEqual(before.stdout);
      // Prometheus sees the gauge fall and the counters stay: no counter reset, so rate() is undisturbed.
      await seen("sum(bgtask_tasks_retained) by (executor)", {});
      for (const [name, expected] of Object.entries(counters)) await seen(name, expected, name === "bgtask_tasks_finished_total" ? finished : executorOf);
      await seen("resets(bgtask_tasks_finished_total[5m]) > 0", {});
    });
  });
});

describeOnJournals("the /metrics endpoint", () => {
  it("asks for the configured token as a bearer token (401 otherwise), serves /metrics alone, and stops cleanly on SIGINT", async () => {
    const { project, token } = projectWithToken({ tasks: { "ok.js": fixture("noop.js") } });
    const metrics = await startMetrics(project, onTestFinished);
    expect(metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${token}x`, `Basic ${token}`, token]) {
      const refused = await http(metrics.url, { headers: authorization === undefined ? {} : { authorization } });
      expect(refused.status, authorization).toBe(401);
      expect(refused.headers["www-authenticate"], authorization).toMatch(/^Bearer/);
    }
    const id = await project.run("ok");
    await project.waitForTask(id, (t) => t.completed);
    const scrape = await http(metrics.url, { headers: { authorization: `Bearer ${token}` } });
    expect(scrape.status).toBe(200);
    expect(scrape.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(scrape.body).toContain('bgtask_tasks_finished_total{executor="ok",status="succeeded"} 1\n');
    const origin = new URL(metrics.url).origin;
    expect((await http(`${origin}/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect((await http(`${origin}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect((await http(metrics.url, { method: "POST", headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
    metrics.child.kill("SIGINT");
    expect(await metrics.exited).toBe(0);
  });

  it("without a token: serves this machine alone, and refuses another --host in one sentence, exit 2, nothing started or written", async () => {
    const project = useProject(onTestFinished, { tasks: { "ok.js": fixture("noop.js") } });
    const refused = await project.cli(["metrics", "--port", "0", "--host", "0.0.0.0"]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^bgtask: --host 0\.0\.0\.0 would serve the metrics to the network with no token; set metrics\.tokenFile in [^\n]*$/);
    expect(existsSync(project.home)).toBe(false);
    expect(project.journalRev()).toBe(0);

    const metrics = await startMetrics(project, onTestFinished);
    expect((await http(metrics.url)).status).toBe(200);
    // A page elsewhere that rebinds its name to 127.0.0.1 sends that name.
    const port = new URL(metrics.url).port;
    expect((await http(metrics.url, { headers: { host: `attacker.example:${port}` } })).status).toBe(403);
    expect((await http(metrics.url, { headers: { host: `localhost:${port}` } })).status).toBe(200);
    metrics.child.kill("SIGTERM");
    expect(await metrics.exited).toBe(0);
  });

  it("is on bgtask ui too, with the metrics token and not the dashboard's; a scrape's journal reads do not grow with the queue", async () => {
    const { project, token } = projectWithToken({ tasks: { "ok.js": fixture("noop.js") } });
    const ui = await startUi(project, onTestFinished);
    const url = `${ui.origin}/metrics`;
    expect((await http(url, { headers: { cookie: cookieFor(ui) } })).status).toBe(401);
    expect((await http(url, { headers: { authorization: `Bearer ${ui.token}` } })).status).toBe(401);
    const storeReads = async () => (await http(`${ui.origin}/api/metrics`, { headers: { cookie: cookieFor(ui) } })).json().storeReads as number;
    const readsOfScrape = async () => {
      const before = await storeReads();
      const scrape = await http(url, { headers: { authorization: `Bearer ${token}` } });
      expect(scrape.status).toBe(200);
      return { reads: (await storeReads()) - before, body: scrape.body };
    };
    const empty = await readsOfScrape();
    expect(empty.body).toContain("# TYPE bgtask_tasks_enqueued_total counter\n");
    writeFileSync(join(project.dir, "many.jsonl"), "{}\n".repeat(300));
    expect((await project.cli(["run", "ok", "--each", "many.jsonl", "--no-worker"])).code).toBe(0);
    const deep = await readsOfScrape();
    expect(deep.body).toContain('bgtask_tasks{executor="ok",status="queued"} 300\n');
    expect(deep.reads).toBe(empty.reads);
    // The dashboard's own token still guards everything else.
    expect((await http(`${ui.origin}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });
});

describe("bad token settings and formats", () => {
  it("are one sentence and exit 2, naming no token", async () => {
    const project = useProject(onTestFinished, { config: { metrics: { tokenFile: "missing-token" } } });
    const missing = await project.cli(["metrics", "--port", "0"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^bgtask: the metrics token file .*missing-token \(metrics\.tokenFile\) cannot be read: ENOENT$/);
    writeFileSync(join(project.dir, "missing-token"), "short\n");
    expect((await project.cli(["metrics", "--port", "0"])).stderr).toMatch(/must hold a token of 16 characters or more/);
    const short = await project.cli(["stats"], { env: { BGTASK_METRICS_TOKEN: "short" } });
    expect([short.code, short.stderr]).toEqual([2, "bgtask: BGTASK_METRICS_TOKEN must be 16 characters or more (`openssl rand -hex 16` makes one)"]);
    writeFileSync(join(project.dir, "bgtask.config.json"), JSON.stringify({ metrics: { token: "too-short" } }));
    const inConfig = await project.cli(["stats"]);
    expect(inConfig.code).toBe(2);
    // The token is a secret: the sentence does not repeat it.
    expect(inConfig.stderr).not.toContain("too-short");

    const format = await project.cli(["stats", "--format", "xml"]);
    expect([format.code, format.stderr.trimEnd().split("\n")]).toEqual([
      2,
      [expect.stringMatching(/^bgtask: .*'xml' is invalid\. Allowed choices are text, json, prometheus/)],
    ]);
    writeFileSync(join(project.dir, "bgtask.config.json"), "{}");
    const both = await project.cli(["stats", "--format", "prometheus", "--json"]);
    expect([both.code, JSON.parse(both.stdout)]).toEqual([
      2,
      { error: { code: "EUSAGE", message: "--json and --format prometheus ask for two formats; give one" } },
    ]);
  });
});
