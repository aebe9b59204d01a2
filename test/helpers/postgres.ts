// A PostgreSQL cluster of a test's own, for tests that restart or crash it (the shared one of
// BGTASK_TEST_PG serves the other suites meanwhile). As .ci/postgres starts that one: initdb in a
// temp folder, 127.0.0.1 only, as the postgres user when the tests run as root.
import { execa, execaSync } from "execa";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Cluster {
  url: string;
  /** pg_ctl restart -m fast: sessions are ended, the server starts again. */
  restartFast(): Promise<void>;
  /** pg_ctl stop -m immediate (a crash: no checkpoint), then start again (crash recovery). */
  crashAndStart(): Promise<void>;
  /** pg_ctl stop -m fast, for an outage as long as the test likes: start() ends it. */
  stopFast(): Promise<void>;
  start(): Promise<void>;
  stop(): void;
}

function binDir(): string {
  return process.env.BGTASK_TEST_PG_BIN ?? execaSync("pg_config", ["--bindir"]).stdout.trim();
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startCluster(): Promise<Cluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "bgtask-test-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execaSync("id", ["-u", "postgres"]).stdout), Number(execaSync("id", ["-g", "postgres"]).stdout));
  const run = (tool: string, args: string[]) => (asRoot ? execa("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : execa(join(bin, tool), args));
  const port = await freePort();
  const data = join(dir, "data");
  await run("initdb", ["-D", data, "-A", "trust", "-U", "bgtask", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const start = () => run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`, "start"]);
  await start();
  return {
    url: `postgresql://bgtask@127.0.0.1:${port}/postgres`,
    restartFast: async () => void (await run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-m", "fast", "restart"])),
    crashAndStart: async () => {
      await run("pg_ctl", ["-D", data, "-w", "-m", "immediate", "stop"]);
      await start();
    },
    stopFast: async () => void (await run("pg_ctl", ["-D", data, "-w", "-m", "fast", "stop"])),
    start: async () => void (await start()),
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
