// The dashboard in a real browser (Chromium through playwright-core) over a real project: live
// progress, cancel, retry, the run form (with its errors), an attachment download, task text shown
// as text. With BGTASK_SCREENSHOTS=docs it also writes the README's screenshots to docs/.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type RunningUi, startUi } from "../helpers/dashboard.ts";
import { hasChromium, launchBrowser, requireChromiumUnderCi } from "../helpers/browser.ts";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, type Project, REPO, useProject } from "../helpers/project.ts";

const SCREENSHOTS = process.env.BGTASK_SCREENSHOTS === "docs" ? join(REPO, "docs") : null;
const HOSTILE = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

const TASKS = {
  "gated.ts": fixture("gated.ts"),
  "import-users.ts": `
    import { defineTask } from "bgtask";
    export default defineTask<{ rows?: number }>({
      async run(task) {
        task.log("reading users.csv");
        await task.set({ file: "users.csv" });
        await task.attach("report.csv", "id,name\\n1,Ada\\n2,Grace\\n");
        return { message: \`imported \${task.context.rows ?? 2} rows\`, result: { rows: task.context.rows ?? 2 } };
      },
    });`,
  "flaky.ts": `
    import { defineTask } from "bgtask";
    export default defineTask({
      async run(task) {
        throw new Error(\`upstream refused try \${task.tries}\`);
      },
    });`,
  "hostile.ts": `
    import { defineTask } from "bgtask";
    export default defineTask({
      async run(task) {
        task.log(${JSON.stringify(HOSTILE)});
        await task.set({ note: ${JSON.stringify(HOSTILE)} });
        return { message: ${JSON.stringify(HOSTILE)} };
      },
    });`,
};

const gatedContext = (dir: string, stages: object[]) => ["--ctx", JSON.stringify({ dir, stages })];

/** The project's dashboard and a page on it in Chromium, both closed when the test ends; the page's uncaught errors gather in `errors`. */
async function dashboardPage(project: Project): Promise<{ ui: RunningUi; page: Page; errors: string[] }> {
  const ui = await startUi(project, onTestFinished);
  const browser = await launchBrowser();
  onTestFinished(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return { ui, page, errors };
}

async function openDashboard(page: Page, url: string, hash = ""): Promise<void> {
  await page.goto(url);
  // The visit with ?token= set the cookie and left the token out of the address.
  await page.waitForURL((u) => !u.search.includes("token"));
  if (hash) await page.goto(`${new URL(url).origin}/${hash}`);
  await page.locator("#live.on").waitFor();
}

describe.skipIf(!hasChromium() && process.env.CI !== "true")("the dashboard in a browser", () => {
  beforeAll(() => requireChromiumUnderCi());

  describeOnJournals("live, with actions", (journal) => {
    it("shows a running task's bar advance live, cancels it, retries a failed task, runs one from the form and downloads its attachment", async () => {
      const project = useProject(onTestFinished, { tasks: TASKS });
      const { ui, page, errors } = await dashboardPage(project);

      const failed = await project.run("flaky");
      await project.waitForTask(failed, (t) => t.status === "failed");
      const running = await project.run(
        "gated",
        gatedContext(project.dir, [
          { progress: 20, message: "copied 200 of 1000 rows" },
          { progress: 60, message: "copied 600 of 1000 rows" },
        ]),
      );
      await project.waitForTask(running, (t) => t.progress === 20);

      await openDashboard(page, ui.url);
      await page.locator('[data-count="running"]', { hasText: "1" }).waitFor();
      await page.locator('[data-count="failed"]', { hasText: "1" }).waitFor();
      await page.locator("#workers td", { hasText: `${running} gated 20%` }).waitFor();
      if (SCREENSHOTS && journal === "file") await page.screenshot({ path: join(SCREENSHOTS, "dashboard-overview.png"), fullPage: true });

      // A queue paused from the page is paused in the journal, as `bgtask pause` sees it; and resumed.
      await page.locator('[data-executor="flaky"]').getByRole("button", { name: "Pause" }).click();
      await page.locator('[data-executor="flaky"] [data-queue="paused"]').waitFor();
      expect((await project.cli(["pause"])).stdout).toContain("flaky");
      await page.locator('[data-executor="flaky"]').getByRole("button", { name: "Resume" }).click();
      await page.locator('[data-executor="flaky"] [data-queue="open"]').waitFor();
      expect((await project.cli(["pause"])).stdout).not.toContain("flaky");

      // The task page follows the try live: the journal's change reaches the page through the event stream.
      await page.goto(`${ui.origin}/#/task/${running}`);
      await page.locator("#progress", { hasText: "20%" }).waitFor();
      await page.locator("#message", { hasText: "copied 200 of 1000 rows" }).waitFor();
      writeFileSync(join(project.dir, "gate-0"), "");
      await page.locator("#progress", { hasText: "60%" }).waitFor();
      await page.locator("#message", { hasText: "copied 600 of 1000 rows" }).waitFor();
      expect(await page.getAttribute('[role="progressbar"]', "aria-valuenow")).toBe("60");
      if (SCREENSHOTS && journal === "file") await page.screenshot({ path: join(SCREENSHOTS, "dashboard-task.png"), fullPage: true });
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.locator('h1 [data-status="cancelled"]').waitFor();
      expect((await project.status(running)).status).toBe("cancelled");

      // A failed task: its error and where it was thrown, then a retry from the page.
      await page.goto(`${ui.origin}/#/task/${failed}`);
      await page.locator(".try .error", { hasText: "upstream refused try 1" }).waitFor();
      await page.locator(".try", { hasText: /at tasks\/flaky\.ts:\d+/ }).waitFor();
      await page.getByRole("button", { name: "Retry" }).click();
      await page.locator(".try .error", { hasText: "upstream refused try 2" }).waitFor();
      expect((await project.status(failed)).tries).toBe(2);

      // The run form checks the context as `run --ctx` does, then stores the task.
      await page.goto(`${ui.origin}/#/run`);
      await page.selectOption('select[name="executor"]', "import-users");
      await page.fill('textarea[name="context"]', "[1, 2]");
      await page.getByRole("button", { name: "Run" }).click();
      await page.locator('[role="alert"]', { hasText: "the context must be a JSON object" }).waitFor();
      await page.fill('textarea[name="context"]', '{"rows": 3}');
      await page.getByRole("button", { name: "Run" }).click();
      await page.waitForURL(/#\/task\/\d+$/);
      const created = /#\/task\/(\d+)$/.exec(page.url())![1]!;
      await page.locator('h1 [data-status="succeeded"]').waitFor();
      await page.locator("#message", { hasText: "imported 3 rows" }).waitFor();
      await page.locator("#log", { hasText: "reading users.csv" }).waitFor();
      expect((await project.status(created)).context).toEqual({ rows: 3 });

      const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#attachments a", { hasText: "report.csv" }).click()]);
      expect(download.suggestedFilename()).toBe("report.csv");
      expect(readFileSync((await download.path())!, "utf8")).toBe("id,name\n1,Ada\n2,Grace\n");
      expect(errors).toEqual([]);
    });
  });

  describeOnJournals("bulk actions", () => {
    it("asks first, then retries one executor's failed tasks, cancels every waiting task and removes one executor's finished ones", async () => {
      const project = useProject(onTestFinished, { tasks: TASKS });
      const failed = [await project.run("flaky"), await project.run("flaky")];
      const done = await project.run("import-users");
      const waiting = [await project.run("import-users", ["--delay", "1h"]), await project.run("import-users", ["--delay", "1h"])];
      for (const id of [...failed, done]) await project.waitForTask(id, (t) => t.completed);
      const { ui, page, errors } = await dashboardPage(project);
      const asked: string[] = [];
      let answer = false;
      page.on("dialog", (dialog) => {
        asked.push(dialog.message());
        void (answer ? dialog.accept() : dialog.dismiss());
      });
      await openDashboard(page, ui.url);
      // The activity of the last hour, then of the last day: what ended, by executor, as bars.
      for (const window of ["hour", "day"]) {
        if (window === "day") await page.locator('[data-window="day"]').click();
        await page.locator(`[data-window="${window}"]:not(.secondary)`).waitFor();
        await page.locator('[data-activity="flaky"][data-failed="2"][data-succeeded="0"]').waitFor();
        await page.locator('[data-activity="import-users"][data-succeeded="1"][data-failed="0"]').waitFor();
        expect(await page.locator('[data-activity="flaky"] rect.bar-failed').count(), window).toBeGreaterThan(0);
        expect(await page.locator('[data-activity="flaky"] rect.bar-failed title').first().textContent()).toMatch(
          /: 0 succeeded, [12] failed, 0 cancelled; average wait /,
        );
      }
      const bulk = (executor: string, action: string) => page.locator(`[data-executor="${executor}"] [data-bulk="${action}"]`);

      // Dismissed: nothing changes.
      await bulk("flaky", "retry-failed").click();
      expect(asked).toEqual(["Retry the 2 failed tasks of flaky?"]);
      expect((await project.list(["--status", "failed"])).map((t) => t.tries)).toEqual([1, 1]);

      answer = true;
      await bulk("flaky", "retry-failed").click();
      await page.locator("#bulk-notice", { hasText: "2 tasks of flaky queued again" }).waitFor();
      for (const id of failed) await project.waitForTask(id, (t) => t.tries === 2 && t.completed);
      // The page follows the journal live: both failed again, and only the two delayed ones wait.
      await page.locator('[data-count="failed"]', { hasText: /^2$/ }).waitFor();
      await page.locator('[data-count="queued"]', { hasText: /^0$/ }).waitFor();

      await bulk("", "cancel-queued").click();
      expect(asked.at(-1)).toBe("Cancel the 2 waiting tasks?");
      await page.locator("#bulk-notice", { hasText: "2 tasks cancelled" }).waitFor();
      for (const id of waiting) expect((await project.status(id)).status).toBe("cancelled");

      await page.locator('[data-executor="import-users"] [data-bulk="remove-finished"]:not([disabled])').waitFor();
      await bulk("import-users", "remove-finished").click();
      expect(asked.at(-1)).toBe("Remove the 3 finished tasks of import-users?");
      await page.locator("#bulk-notice", { hasText: "3 tasks of import-users removed" }).waitFor();
      expect((await project.list()).map((t) => t.id).sort()).toEqual([...failed].sort());

      // The task table says how long each waited and ran; its search finds a text of a context.
      await page.goto(`${ui.origin}/#/tasks`);
      const row = page.locator(`tr[data-id="${failed[0]}"]`);
      await row.waitFor();
      for (const time of ["waited", "ran"]) expect(await row.locator(`[data-time="${time}"]`).textContent(), time).toMatch(/^(\d+ ms|\d+s|\d+m( \d+s)?)$/);
      const marked = await project.run("import-users", ["--delay", "1h", "--ctx", JSON.stringify({ file: "Users-2026.csv" })]);
      await page.getByRole("searchbox", { name: "search" }).fill("users-2026");
      await page.getByRole("searchbox", { name: "search" }).press("Enter");
      await page.locator(`tr[data-id="${marked}"]`).waitFor();
      expect(await page.locator("tbody tr").count()).toBe(1);
      expect(await page.locator(`tr[data-id="${marked}"] [data-time="waited"]`).textContent()).toMatch(/ so far$/);
      expect(errors).toEqual([]);
    });
  });

  describeOnJournals("schedules", () => {
    it("lists each schedule with its next slot, and once one fires, its last slot and the task it made, live", async () => {
      const schedules = [
        { name: "every-second", cron: "* * * * * *", executor: "import-users", context: { rows: 5 } },
        { name: "nightly", cron: "30 2 * * *", timezone: "Europe/Berlin", executor: "import-users" },
      ];
      const project = useProject(onTestFinished, { tasks: TASKS, config: { schedules, worker: false } });
      const { ui, page, errors } = await dashboardPage(project);
      await openDashboard(page, ui.url, "#/schedules");
      const row = (name: string) => page.locator(`[data-schedule="${name}"]`);
      await row("nightly").waitFor();
      expect(await row("nightly").locator('[data-slot="last"]').textContent()).toBe("never");
      expect(await row("nightly").textContent()).toContain("(Europe/Berlin)");
      expect(await row("nightly").locator('[data-slot="next"]').textContent()).toMatch(/^\d{4}-\d\d-\d\dT\S+ \(in \d+/);
      expect(await row("every-second").locator('[data-slot="last"]').textContent()).toBe("never");

      // A tick fires the due slot and runs its task; the page follows through the feed.
      const tick = await project.cli(["tick"]);
      expect(tick.code, tick.stderr).toBe(0);
      const [fired] = JSON.parse((await project.cli(["schedules", "--json"])).stdout) as Array<{ last: { slot: string; taskId: string } | null }>;
      expect(fired!.last).not.toBeNull();
      await row("every-second").locator('[data-slot="task"] a', { hasText: fired!.last!.taskId }).waitFor();
      await row("every-second").locator('[data-slot="task"] [data-status="succeeded"]').waitFor();
      expect(await row("every-second").locator('[data-slot="last"]').textContent()).toContain(fired!.last!.slot);
      expect(await row("nightly").locator('[data-slot="last"]').textContent()).toBe("never");
      expect(errors).toEqual([]);
    });
  });

  it("shows what a task wrote as text: no element is made from it and no script of it runs", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    const { ui, page } = await dashboardPage(project);
    const id = await project.run("hostile");
    await project.waitForTask(id, (t) => t.status === "succeeded");

    await openDashboard(page, ui.url, "#/tasks");
    const cell = page.locator(`tr[data-id="${id}"] td.msg`);
    await cell.waitFor();
    expect(await cell.textContent()).toBe(HOSTILE);
    await page.goto(`${ui.origin}/#/task/${id}`);
    await page.locator("#message", { hasText: "<script>" }).waitFor();
    await page.locator("#log", { hasText: "<img src=x" }).waitFor();
    expect(await page.locator("#message").textContent()).toBe(HOSTILE);
    // Evaluated in the page, as text: the test's own TypeScript knows no DOM.
    expect(await page.evaluate('document.querySelectorAll("main script, main img").length')).toBe(0);
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
  });
});
