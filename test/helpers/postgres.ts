// A PostgreSQL cluster of a test's own, for tests that restart or crash it (the shared one of
// BGTASK_TEST_PG serves the other suites meanwhile). As .ci/postgres starts that one: initdb in a
// temp folder, 127.0.0.1 only, as the postgres user when the tests run as root. A cluster whose
// disk is to fill up has its data folder on a tmpfs of its own (mounting one needs root).
import { execa, execaSync } from "execa";
import { chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ClusterOptions {
  /** Puts the data folder on a tmpfs of this many MiB, with 1 MiB WAL segments so that initdb's files fit (root only). */
  tmpfsMb?: number;
  /** Server settings (`-c name=value`), e.g. max_connections. */
  settings?: Record<string, string>;
}

/** Whether this process may start a cluster with a tmpfs of its own: root, with the PostgreSQL tools named. */
export function mayMountClusters(): boolean {
  return process.getuid?.() === 0 && Boolean(process.env.BGTASK_TEST_PG_BIN);
}

export interface Cluster {
  url: string;
  /** The data folder (on the tmpfs, when it has one). */
  data: string;
  /** pg_ctl restart -m fast: sessions are ended, the server starts again. */
  restartFast(): Promise<void>;
  /** pg_ctl stop -m immediate (a crash: no checkpoint), then start again (crash recovery). */
  crashAndStart(): Promise<void>;
  /** An outage, not a crash: pg_ctl stop -m fast (sessions ended, what was committed kept), keeping its folder; `up` starts it again. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): void;
}

function binDir(): string {
  return process.env.BGTASK_TEST_PG_BIN ?? execaSync("pg_config", ["--bindir"]).stdout.trim();
}

/** A port free on 127.0.0.1 a moment ago, for a server that cannot be told to pick one and say which. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "bgtask-test-pg-"));
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? { uid: Number(execaSync("id", ["-u", "postgres"]).stdout), gid: Number(execaSync("id", ["-g", "postgres"]).stdout) } : null;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const run = (tool: string, args: string[]) => (asRoot ? execa("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : execa(join(bin, tool), args));
  const port = await freePort();
  const mount = options.tmpfsMb === undefined ? null : join(dir, "disk");
  if (mount) {
    mkdirSync(mount);
    execaSync("mount", ["-t", "tmpfs", "-o", `size=${options.tmpfsMb}m`, "tmpfs", mount]);
    if (owner) chownSync(mount, owner.uid, owner.gid);
  }
  const data = join(mount ?? dir, "data");
  await run("initdb", ["-D", data, "-A", "trust", "-U", "bgtask", "--no-sync", "-E", "UTF8", "--locale=C", ...(mount ? ["--wal-segsize=1"] : [])]);
  const settings = Object.entries(options.settings ?? {}).map(([name, value]) => `-c ${name}=${value}`);
  // The log and the socket stay off the tmpfs: a full disk must not silence the server's log.
  const start = () =>
    run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", [`-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`, ...settings].join(" "), "start"]);
  await start();
  return {
    url: `postgresql://bgtask@127.0.0.1:${port}/postgres`,
    data,
    restartFast: async () => void (await run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-m", "fast", "restart"])),
    crashAndStart: async () => {
      await run("pg_ctl", ["-D", data, "-w", "-m", "immediate", "stop"]);
      await start();
    },
    down: async () => void (await run("pg_ctl", ["-D", data, "-w", "-m", "fast", "stop"])),
    up: async () => void (await start()),
    stop: () => {
      try {
        execaSync(asRoot ? "runuser" : join(bin, "pg_ctl"), [
          ...(asRoot ? ["-u", "postgres", "--", join(bin, "pg_ctl")] : []),
          "-D",
          data,
          "-w",
          "-m",
          "immediate",
          "stop",
        ]);
      } catch {
        // already stopped
      }
      if (mount) execaSync("umount", [mount], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
