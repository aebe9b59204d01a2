// `bgtask ui` over plain HTTP: the token, the cookie, Host and Origin checks (DNS rebinding), the
// CSRF header on actions, JSON errors for bad requests (never a stack), no file outside its
// assets, live events driven by journal changes, a clean stop on SIGINT/SIGTERM, a busy port.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { hostname, networkInterfaces } from "node:os";
import { describe, expect, it, onTestFinished } from "vitest";
import { cookieFor, http, spawnUi, startUi } from "../helpers/dashboard.ts";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, REPO, useProject, waitFor } from "../helpers/project.ts";

const NOOP = `export default (await import("bgtask")).defineTask({ async run() { return { message: "ok" }; } });`;

describeOnJournals("bgtask ui over HTTP", () => {
  it("needs the token: ?token= once sets an HttpOnly SameSite=Strict cookie, and without either every path is refused", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    const ui = await startUi(project, onTestFinished);
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    for (const path of ["/", "/assets/app.js", "/api/stats", "/api/tasks", "/api/events", "/nothing"]) {
      const refused = await http(`${ui.origin}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.json().error.code, path).toBe("ETOKEN");
    }
    expect((await http(`${ui.origin}/api/stats`, { headers: { cookie: `bgtask_token_${ui.port}=wrong` } })).status).toBe(401);
    const visit = await http(ui.url);
    expect(visit.status).toBe(303);
    expect(visit.headers.location).toBe("/");
    expect(visit.headers["set-cookie"]).toEqual([`bgtask_token_${ui.port}=${ui.token}; HttpOnly; SameSite=Strict; Path=/`]);
    const page = await http(`${ui.origin}/`, { headers: { cookie: cookieFor(ui) } });
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.body).not.toMatch(/<script>|\son[a-z]+=/);
    expect((await http(`${ui.origin}/api/stats`, { headers: { cookie: cookieFor(ui) } })).json().stats.byStatus).toEqual({});
  });

  it("refuses a foreign Host (DNS rebinding) and a foreign Origin, even with the token", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    const ui = await startUi(project, onTestFinished);
    const cookie = cookieFor(ui);
    const rebound = await http(`${ui.origin}/api/stats`, { headers: { cookie, host: `attacker.example:${ui.port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.json().error.code).toBe("EHOST");
    expect((await http(`${ui.origin}/api/stats`, { headers: { cookie, host: "127.0.0.1:1" } })).status).toBe(403);
    expect((await http(`${ui.origin}/api/stats`, { headers: { cookie, host: `localhost:${ui.port}` } })).status).toBe(200);
    const foreign = await http(`${ui.origin}/api/tasks`, {
      method: "POST",
      headers: { cookie, origin: "http://attacker.example", "content-type": "application/json" },
      body: JSON.stringify({ executor: "noop", context: "{}" }),
    });
    expect(foreign.status).toBe(403);
    expect(foreign.json().error.code).toBe("EORIGIN");
    expect(await project.list()).toEqual([]);
  });

  it("actions need the CSRF header; bad requests get a 4xx with a JSON error and change nothing", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    const ui = await startUi(project, onTestFinished);
    const cookie = cookieFor(ui);
    const { csrf, executors } = (await http(`${ui.origin}/api/session`, { headers: { cookie } })).json();
    expect(executors).toEqual(["noop"]);
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      http(`${ui.origin}${path}`, { method: "POST", headers: { cookie, "content-type": "application/json", "x-bgtask-csrf": csrf, ...headers }, body });
    const noCsrf = await http(`${ui.origin}/api/tasks`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: '{"executor":"noop","context":"{}"}',
    });
    expect([noCsrf.status, noCsrf.json().error.code]).toEqual([403, "ECSRF"]);
    const cases: Array<[string, string, number, RegExp]> = [
      ["/api/tasks", "not json", 400, /the body is not JSON/],
      ["/api/tasks", '{"executor":"noop"}', 400, /bad run request \(context\)/],
      ["/api/tasks", '{"executor":"noop","context":"[1]"}', 400, /the context must be a JSON object/],
      ["/api/tasks", '{"executor":"noop","context":"{\\"__proto__\\":1}"}', 400, /__proto__/],
      ["/api/tasks", '{"executor":"nope","context":"{}"}', 400, /nope/],
      ["/api/tasks", '{"executor":"../x","context":"{}"}', 400, /not a valid executor name/],
      ["/api/tasks/42/cancel", "{}", 404, /no task with id "42"/],
      ["/api/tasks/x/cancel", "{}", 400, /is not a task id/],
      ["/api/tasks/1/explode", "{}", 404, /no POST/],
      ["/api/tasks/1/__proto__", "{}", 404, /no POST/],
      ["/api/bulk/retry-everything", "{}", 400, /bad bulk request \(action\): a bulk action is one of retry-failed, cancel-queued, remove-finished/],
      ["/api/bulk/__proto__", "{}", 400, /a bulk action is one of/],
      ["/api/bulk/retry-failed", '{"executor":1}', 400, /bad bulk request \(body\.executor\)/],
      ["/api/bulk/remove-finished", '{"executor":"nope"}', 400, /nope/],
      ["/api/bulk/cancel-queued", '{"executor":"../x"}', 400, /not a valid executor name/],
    ];
    for (const [path, body, status, says] of cases) {
      const result = await post(path, body);
      expect(result.status, `${path} ${body}`).toBe(status);
      expect(result.json().error.message, `${path} ${body}`).toMatch(says);
      expect(result.body).not.toMatch(/\n\s+at /);
    }
    expect((await post("/api/tasks", "{}", { "content-type": "text/plain" })).status).toBe(415);
    const bulkNoCsrf = await http(`${ui.origin}/api/bulk/cancel-queued`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: "{}",
    });
    expect([bulkNoCsrf.status, bulkNoCsrf.json().error.code]).toEqual([403, "ECSRF"]);
    const get = (path: string) => http(`${ui.origin}${path}`, { headers: { cookie } });
    expect((await get("/api/tasks?status=bogus")).json().error.message).toMatch(/a status is one of queued/);
    expect((await get("/api/tasks?page=-1")).status).toBe(400);
    expect((await get("/api/tasks?order=random")).status).toBe(400);
    expect((await get("/api/activity?window=week")).json().error.message).toMatch(/window is "hour" or "day"/);
    expect((await get("/api/activity")).json()).toMatchObject({ window: "hour", bucketMs: 60_000, buckets: 60, executors: {} });
    expect((await get("/api/tasks/1")).status).toBe(404);
    expect((await get("/api/tasks/1/attachments/..%2F..%2Fjournal.json")).status).toBe(404);
    expect((await get("/api/%E0%A4%A")).status).toBe(400);
    // Only the dashboard's own assets are files it serves.
    for (const path of ["/assets/../../package.json", "/assets/%2e%2e/%2e%2e/package.json", "/package.json", "/assets/server.cjs", "/assets/"]) {
      const result = await get(path);
      expect(result.status, path).toBe(404);
      expect(result.json().error.code, path).toBe("ENOTFOUND");
    }
    expect(await project.list()).toEqual([]);
    // A good run is stored as `run` stores it.
    const created = await post("/api/tasks", JSON.stringify({ executor: "noop", context: '{"n":1}' }));
    expect(created.status).toBe(201);
    const stored = await project.waitForTask(created.json().task.id, (t) => t.status === "succeeded");
    expect(stored.context).toEqual({ n: 1 });
  });

  it("pages the task table from the store: 50 a page, newest first or in claim order, filtered and searched; remove deletes", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP, "other.ts": NOOP } });
    const contexts = Array.from({ length: 60 }, (_, i) => JSON.stringify({ n: i + 1 })).join("\n");
    writeFileSync(join(project.dir, "each.jsonl"), contexts);
    expect((await project.cli(["run", "noop", "--each", "each.jsonl", "--no-worker"])).code).toBe(0);
    const other = await project.run("other", ["--no-worker", "--ctx", JSON.stringify({ mail: { to: "Ada@Example.com" } })]);
    const ui = await startUi(project, onTestFinished);
    const cookie = cookieFor(ui);
    const page = async (query: string) => (await http(`${ui.origin}/api/tasks?${query}`, { headers: { cookie } })).json();
    const first = await page("");
    expect([first.tasks.length, first.more, first.tasks[0].id, first.tasks[49].id]).toEqual([50, true, other, "12"]);
    const second = await page("page=1");
    expect([second.tasks.length, second.more, second.tasks.at(-1).id]).toEqual([11, false, "1"]);
    expect((await page("order=claim")).tasks.slice(0, 3).map((t: { id: string }) => t.id)).toEqual(["1", "2", "3"]);
    expect((await page("executor=other")).tasks.map((t: { id: string }) => t.id)).toEqual([other]);
    expect((await page("q=17")).tasks.map((t: { id: string }) => t.id)).toEqual(["17"]);
    // A text anywhere in the context, in any case.
    expect((await page("q=ada%40EXAMPLE")).tasks.map((t: { id: string }) => t.id)).toEqual([other]);
    expect((await page("status=running,failed")).tasks).toEqual([]);
    const { csrf } = (await http(`${ui.origin}/api/session`, { headers: { cookie } })).json();
    const removed = await http(`${ui.origin}/api/tasks/${other}/remove`, {
      method: "POST",
      headers: { cookie, "x-bgtask-csrf": csrf, "content-type": "application/json" },
      body: "{}",
    });
    expect(removed.json()).toEqual({ removed: [other] });
    expect((await http(`${ui.origin}/api/tasks/${other}`, { headers: { cookie } })).status).toBe(404);
  });

  it("the event stream tells each change with the records that changed, driven by the journal", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.ts": fixture("gated.ts") } });
    const ui = await startUi(project, onTestFinished);
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const response = await fetch(`${ui.origin}/api/events`, { headers: { cookie: cookieFor(ui) }, signal: controller.signal });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    let received = "";
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body!) received += decoder.decode(chunk as Uint8Array);
    })().catch(() => undefined);
    const id = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{ progress: 55, message: "half way" }] })]);
    await waitFor(
      () => /event: tasks\ndata: .*"progress":55/.test(received),
      30_000,
      () => `no event with the progress: ${received}`,
    );
    const events = received.split("\n\n").filter((e) => e.startsWith("event: tasks"));
    const records = events.flatMap((e) => JSON.parse(e.split("\ndata: ")[1]!).tasks);
    expect(records.every((t: { id: string }) => t.id === id)).toBe(true);
    await waitFor(
      () => /event: overview\ndata: .*"running":1/.test(received),
      30_000,
      () => received,
    );
  });

  it("stops cleanly on SIGINT and SIGTERM; a busy port is one sentence and exit 2; another --host is warned about", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const ui = await startUi(project, onTestFinished);
      expect(await ui.stop(signal)).toBe(0);
    }
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => void blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const busy = spawnUi(project, ["--port", String(port)]);
    expect(await busy.exited).toBe(2);
    expect(busy.output().stderr).toBe(`bgtask: port ${port} on 127.0.0.1 is in use; pick another with --port (0 picks a free one)\n`);
    const badPort = spawnUi(project, ["--port", "70000"]);
    expect(await badPort.exited).toBe(2);
    expect(badPort.output().stderr).toMatch(/^bgtask: --port "70000" is not a port/);
    const wide = await startUi(project, onTestFinished, ["--host", "0.0.0.0"]);
    expect(wide.output().stderr).toMatch(/warning: --host 0\.0\.0\.0 makes the dashboard reachable from the network/);
    expect(await wide.stop()).toBe(0);
  });

  it("--open hands the URL to xdg-open as one argument; without one it warns and serves on", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    const bin = join(project.dir, "fake-bin");
    mkdirSync(bin);
    const seen = join(project.dir, "opened.txt");
    writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > ${JSON.stringify(seen)}\n`, { mode: 0o755 });
    const opened = await startUi(project, onTestFinished, ["--open"], { PATH: `${bin}:${process.env.PATH}` });
    await waitFor(
      () => existsSync(seen) && readFileSync(seen, "utf8").includes("token="),
      30_000,
      () => "xdg-open was not run",
    );
    expect(readFileSync(seen, "utf8")).toBe(`1\n${opened.url}\n`);
    expect(await opened.stop()).toBe(0);
    const none = await startUi(project, onTestFinished, ["--open"], { PATH: dirname(process.execPath) });
    await waitFor(
      () => /could not open a browser/.test(none.output().stderr),
      30_000,
      () => none.output().stderr,
    );
    expect(none.output().stderr).toMatch(/^bgtask: could not open a browser \(.*\); open the URL above yourself$/m);
    expect((await http(`${none.origin}/api/stats`, { headers: { cookie: cookieFor(none) } })).status).toBe(200);
    expect(await none.stop()).toBe(0);
  });

  it("other commands never load the dashboard: its server is a bundle of its own, outside the CLI's", () => {
    const cli = readFileSync(join(REPO, "dist/cli/bgtask.cjs"), "utf8");
    expect(cli).not.toContain("bgtask_token_");
    expect(readFileSync(join(REPO, "dist/dashboard/server.cjs"), "utf8")).toContain("bgtask_token_");
  });
});

describe("bgtask ui --host 0.0.0.0", () => {
  it("answers through the machine's own addresses and name, with the token only, and still refuses a foreign Host", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.ts": NOOP } });
    const ui = await startUi(project, onTestFinished, ["--host", "0.0.0.0"]);
    // The printed URL opens from elsewhere: an address of the network, never 0.0.0.0 (which names no machine).
    const external = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => !entry.internal && entry.family === "IPv4")
      .map((entry) => entry.address);
    expect(ui.url).toMatch(new RegExp(`^http://${(external[0] ?? "127.0.0.1").replaceAll(".", "\\.")}:${ui.port}/\\?token=`));
    const visit = await http(ui.url);
    expect(visit.status).toBe(303);
    expect(visit.headers["set-cookie"]).toEqual([`bgtask_token_${ui.port}=${ui.token}; HttpOnly; SameSite=Strict; Path=/`]);

    const cookie = cookieFor(ui);
    const loopback = `http://127.0.0.1:${ui.port}/api/stats`;
    // Each own name, as a browser sends it: by the address itself, and by the host name (which may resolve to the loopback only).
    const own: Array<{ url: string; headers: Record<string, string> }> = [
      ...external.map((address) => ({ url: `http://${address}:${ui.port}/api/stats`, headers: {} })),
      { url: loopback, headers: { host: `${hostname()}:${ui.port}` } },
    ];
    for (const { url, headers } of own) {
      const label = headers.host ?? url;
      expect((await http(url, { headers: { ...headers, cookie } })).status, label).toBe(200);
      const anonymous = await http(url, { headers });
      expect(anonymous.status, label).toBe(401);
      expect(anonymous.json().error.code, label).toBe("ETOKEN");
    }
    for (const host of [`attacker.example:${ui.port}`, `${hostname()}.attacker.example:${ui.port}`, `${external[0] ?? "127.0.0.1"}:1`]) {
      const rebound = await http(loopback, { headers: { cookie, host } });
      expect(rebound.status, host).toBe(403);
      expect(rebound.json().error.code, host).toBe("EHOST");
    }
    const foreign = await http(loopback, { headers: { cookie, origin: "http://attacker.example" } });
    expect(foreign.json().error.code).toBe("EORIGIN");
    expect(await ui.stop()).toBe(0);
  });
});
