// `bgtask ui` for tests: started in a project on a free port, its URL read from stdout, stopped
// with SIGTERM when the test ends; and plain HTTP requests with any headers (fetch forbids Host).
import { spawn, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { BIN, waitFor, type Project } from "./project.ts";

export interface RunningUi {
  url: string;
  origin: string;
  port: number;
  token: string;
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** SIGTERM (or `signal`), then its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface SpawnedCli {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<number>;
}

export function spawnUi(project: Project, args: string[] = [], env: Record<string, string> = {}): SpawnedCli {
  return spawnCli(project, ["ui", "--port", "0", ...args], env);
}

/** `bgtask <args>` in the project, left running: its output is kept, its exit code awaited in `exited`. */
export function spawnCli(project: Project, args: string[], env: Record<string, string> = {}): SpawnedCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: project.dir,
    env: { ...process.env, ...project.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? -1 : 0))));
  return { child, output: () => ({ stdout, stderr }), exited };
}

export async function startUi(
  project: Project,
  onFinished: (fn: () => Promise<void>) => void,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningUi> {
  const { child, output, exited } = spawnUi(project, args, env);
  onFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  await waitFor(
    () => /\?token=\S+\n/.test(output().stdout) || child.exitCode !== null,
    30_000,
    () => `bgtask ui printed no URL: ${JSON.stringify(output())}`,
  );
  const url = output().stdout.trim().split("\n")[0]!;
  if (!/\?token=/.test(url)) throw new Error(`bgtask ui did not start: ${JSON.stringify(output())}`);
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    port: Number(parsed.port),
    token: parsed.searchParams.get("token")!,
    child,
    output,
    stop: async (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field
  json(): any;
}

export function http(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** The cookie header of a visit that brought the token. */
export function cookieFor(ui: RunningUi): string {
  return `bgtask_token_${ui.port}=${ui.token}`;
}
