// A real Prometheus for the tests of /metrics: Debian's package (BGTASK_PROMETHEUS names another
// binary, with promtool beside it), started on 127.0.0.1 with a config and storage of its own in a
// temp folder, scraping one target every second; and `bgtask metrics` started in a project.
// Without Prometheus the tests that need it are skipped on a developer's machine, and fail under CI=true.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type SpawnedCli, spawnCli } from "./dashboard.ts";
import { freePort } from "./postgres.ts";
import { type Project, waitFor } from "./project.ts";

export const PROMETHEUS = process.env.BGTASK_PROMETHEUS ?? "/usr/bin/prometheus";
export const PROMTOOL = join(dirname(PROMETHEUS), "promtool");

export function hasPrometheus(): boolean {
  return existsSync(PROMETHEUS) && existsSync(PROMTOOL);
}

/** Fails under CI when there is no Prometheus, instead of skipping the tests that need one. */
export function requirePrometheusUnderCi(): void {
  if (!hasPrometheus() && process.env.CI === "true")
    throw new Error(
      `no Prometheus at ${PROMETHEUS} (and promtool beside it): install it (apt-get install -y prometheus, as .ci/run does) or set BGTASK_PROMETHEUS`,
    );
}

/** One series of an instant query's answer: its labels, its value. */
export interface Series {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query through the HTTP API, as of now. */
  query(expression: string): Promise<Series[]>;
  output(): string;
}

export interface ScrapeTarget {
  /** host:port of the /metrics endpoint. */
  address: string;
  /** The file holding the bearer token. */
  credentialsFile: string;
}

/** Prometheus scraping `target` every second; killed, its storage removed, when the test ends. */
export async function startPrometheus(onFinished: (fn: () => Promise<void>) => void, target: ScrapeTarget): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-test-prometheus-"));
  const config = {
    global: { scrape_interval: "1s", scrape_timeout: "1s" },
    scrape_configs: [
      {
        job_name: "bgtask",
        metrics_path: "/metrics",
        authorization: { credentials_file: target.credentialsFile },
        static_configs: [{ targets: [target.address] }],
      },
    ],
  };
  // JSON is YAML: the config needs no YAML writer.
  writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config));
  const url = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=${url.slice("http://".length)}`,
      "--log.level=warn",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  onFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = () =>
    fetch(`${url}/-/ready`).then(
      (response) => response.ok,
      () => false,
    );
  await waitFor(
    async () => child.exitCode !== null || (await ready()),
    30_000,
    () => `Prometheus never became ready: ${output}`,
  );
  if (child.exitCode !== null) throw new Error(`Prometheus exited with ${child.exitCode}: ${output}`);
  return {
    url,
    output: () => output,
    async query(expression) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== "success") throw new Error(`Prometheus refused ${expression}: ${body.error}`);
      return body.data.result.map((series) => ({ metric: series.metric, value: Number(series.value[1]) }));
    },
  };
}

export interface RunningMetrics extends SpawnedCli {
  /** http://127.0.0.1:<port>/metrics, as it printed it. */
  url: string;
}

/** `bgtask metrics --port 0 <args>` in the project, its URL read from stdout; killed when the test ends if it still runs. */
export async function startMetrics(
  project: Project,
  onFinished: (fn: () => Promise<void>) => void,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningMetrics> {
  const spawned = spawnCli(project, ["metrics", "--port", "0", ...args], env);
  onFinished(async () => {
    if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill("SIGKILL");
    await spawned.exited;
  });
  await waitFor(
    () => spawned.output().stdout.includes("\n") || spawned.child.exitCode !== null,
    30_000,
    () => `bgtask metrics printed no URL: ${JSON.stringify(spawned.output())}`,
  );
  const url = spawned.output().stdout.trim();
  if (!/^http:\/\/\S+\/metrics$/.test(url)) throw new Error(`bgtask metrics did not start: ${JSON.stringify(spawned.output())}`);
  return { ...spawned, url };
}
