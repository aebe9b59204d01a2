// Hosts of their own for multi-host tests on one machine: each runs in a UTS namespace with its own
// host name (unshare --uts) and its own bgtask home, so its processes are "unknown" to the others,
// as on another machine. Needs root (or user namespaces), as the PostgreSQL multi-host suites do.
import { execa, type ResultPromise } from "execa";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, type Project, REPO } from "./project.ts";

export const WORKER_ENTRY = join(REPO, "dist/worker/main.js");

/** What runs on a host, and what it said on stderr so far (a worker's log: why one stopped). */
export interface Host {
  home: string;
  done: ResultPromise;
  said(): string;
}

function inNamespace(project: Project, host: string, script: string, env: Record<string, string>): Host {
  const home = join(project.dir, `home-${host}`);
  mkdirSync(home, { recursive: true });
  const done = execa("unshare", ["--uts", "--fork", "sh", "-c", `hostname ${host}; ${script}`], {
    cwd: project.dir,
    reject: false,
    stdin: "ignore",
    env: { ...project.env, BGTASK_ROOT: project.dir, BGTASK_HOME: home, BGTASK_TASKS: join(project.dir, "tasks"), ...env },
    extendEnv: true,
  });
  let said = "";
  done.stderr?.on("data", (chunk: Buffer) => {
    said += chunk.toString("utf8");
  });
  return { home, done, said: () => said };
}

/** Starts `workers` worker processes on the host `host`. */
export function startHost(project: Project, host: string, workers: number, env: Record<string, string> = {}): Host {
  return inNamespace(project, host, `for i in $(seq ${workers}); do "${process.execPath}" "${WORKER_ENTRY}" & done; wait`, env);
}

/** Runs `bgtask <args>` on the host `host`; its stdout is `done`'s. */
export function cliOnHost(project: Project, host: string, args: readonly string[], env: Record<string, string> = {}): Host {
  const quoted = [process.execPath, BIN, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  return inNamespace(project, host, `exec ${quoted}`, env);
}

/** Pids of live processes whose environment holds `marker` (a host's own BGTASK_HOME). */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/** Kills what runs on these hosts (their processes, found by their homes). */
export function killHosts(hosts: readonly Pick<Host, "home">[]): void {
  for (const host of hosts) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
}
