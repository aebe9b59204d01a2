// The pure views: list/status/logs/watch lines and frames, from records and a fixed clock.
import chalk from "chalk";
import stringWidth from "string-width";
import { beforeAll, describe, expect, it } from "vitest";
import type { TaskEvent } from "../../src/core/events.ts";
import { createTask, type TaskRecord } from "../../src/core/task.ts";
import { columns, loadColumnsFor } from "../../src/cli/output/columns.ts";
import { renderEventLine } from "../../src/cli/output/events.ts";
import { renderLogLines } from "../../src/cli/output/logs.ts";
import { presentStack, renderStatus } from "../../src/cli/output/status.ts";
import { fitWidth, formatBytes, progressBar, table } from "../../src/cli/output/text.ts";
import { countStatuses, renderChangeLine, renderFooter, renderSummaryLine, renderWatchFrame, renderWatchLine } from "../../src/cli/output/watch.ts";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const at = (secondsAgo: number) => new Date(NOW.getTime() - secondsAgo * 1000).toISOString();

function task(overrides: Partial<TaskRecord> = {}): TaskRecord {
  const base = createTask(
    "7",
    { executor: "import-users", context: {}, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null },
    new Date(at(60)),
    3,
  );
  return { ...base, ...overrides };
}

beforeAll(() => {
  chalk.level = 0;
});

describe("bars, sizes and widths", () => {
  it("draws a 20-cell bar, clamped", () => {
    expect(progressBar(0)).toBe("░".repeat(20));
    expect(progressBar(42)).toBe("█".repeat(8) + "░".repeat(12));
    expect(progressBar(250)).toBe("█".repeat(20));
    expect(progressBar(-3)).toBe("░".repeat(20));
  });

  it("formats sizes with the exact byte count", () => {
    expect(formatBytes(22)).toBe("22 B");
    expect(formatBytes(1536)).toBe("1.5 KiB (1536 B)");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB (5242880 B)");
  });

  it("cuts a line to the terminal width without breaking a style", () => {
    expect(fitWidth("short", 10)).toBe("short");
    expect(fitWidth("a longer line", 8)).toBe("a longe…");
    chalk.level = 1;
    try {
      const cut = fitWidth(`${chalk.red("red text")} and more`, 6);
      expect(cut).toBe(`\u001b[31mred t…\u001b[0m`);
    } finally {
      chalk.level = 0;
    }
  });
});

describe("watch lines", () => {
  it("a running task: spinner, bar, percent, step, elapsed, ETA, message", () => {
    const running = task({
      status: "running",
      tries: 1,
      startedAt: at(75),
      progress: 42,
      message: "copied 420 of 1000 rows",
      step: { index: 1, name: "transfer", count: 3 },
    });
    expect(renderWatchLine({ task: running, now: NOW, spinner: "⠙", remainingMs: 103_000 }, 200)).toBe(
      `⠙ 7 import-users  ${progressBar(42)}  42%  step 2/3 transfer  1m 15s  ETA 1m 43s  copied 420 of 1000 rows`,
    );
    expect(renderWatchLine({ task: running, now: NOW, spinner: "⠙", remainingMs: null }, 200)).not.toContain("ETA");
    expect(renderWatchLine({ task: running, now: NOW, spinner: "⠙", remainingMs: 400 }, 200)).toContain("ETA <1s");
    expect(renderWatchLine({ task: running, now: NOW, spinner: "⠙", remainingMs: null, align: { id: 3, executor: 14 } }, 200)).toMatch(
      /^⠙ 7 {3}import-users {4}█/,
    );
    const narrow = renderWatchLine({ task: running, now: NOW, spinner: "⠙", remainingMs: null }, 40);
    expect([...narrow]).toHaveLength(40);
    expect(narrow.endsWith("…")).toBe(true);
  });

  it("a task waiting for its retry counts down; queued, paused and final tasks say what they are", () => {
    const scheduled = task({ status: "scheduled", tries: 1, nextRunAt: new Date(NOW.getTime() + 8_000).toISOString(), message: "connection refused" });
    expect(renderWatchLine({ task: scheduled, now: NOW, spinner: "⠙", remainingMs: null }, 200)).toBe(
      "◷ 7 import-users  scheduled  try 2/3 in 8s  connection refused",
    );
    const delayed = task({ status: "scheduled", nextRunAt: new Date(NOW.getTime() + 90_000).toISOString() });
    expect(renderWatchLine({ task: delayed, now: NOW, spinner: "⠙", remainingMs: null }, 200)).toBe("◷ 7 import-users  scheduled  starts in 1m 30s");
    expect(renderWatchLine({ task: task(), now: NOW, spinner: "⠙", remainingMs: null }, 200)).toBe("· 7 import-users  queued  waiting 1m");
    const paused = task({ status: "paused", step: { index: 0, name: "collect", count: 2 } });
    expect(renderWatchLine({ task: paused, now: NOW, spinner: "⠙", remainingMs: null }, 200)).toBe(
      "‖ 7 import-users  paused  step 1/2 collect  resumes with the next worker or tick",
    );
    const failed = task({ status: "failed", completed: true, tries: 3, startedAt: at(5), finishedAt: at(3), message: "boom" });
    expect(renderWatchLine({ task: failed, now: NOW, spinner: "⠙", remainingMs: null }, 200)).toBe("✖ 7 import-users  failed  in 2s  (try 3 of 3)  boom");
  });

  it("footer counts and frames that fit the terminal's height", () => {
    const tasks = [
      task({ status: "running" }),
      task({ status: "queued" }),
      task({ status: "succeeded" }),
      task({ status: "succeeded" }),
      task({ status: "cancelled" }),
    ];
    expect(renderFooter(countStatuses(tasks))).toBe("queued 1 · scheduled 0 · running 1 · done 2 · failed 0 · cancelled 1");
    expect(renderFooter({})).toBe("queued 0 · scheduled 0 · running 0 · done 0 · failed 0");
    expect(renderWatchFrame(["a", "b"], "footer", 24)).toBe("a\nb\nfooter");
    expect(renderWatchFrame(["a", "b", "c", "d", "e"], "footer", 5)).toBe("a\nb\n… and 3 more\nfooter");
  });

  it("plain change lines and summary lines", () => {
    const running = task({ status: "running", progress: 40.4, step: { index: 1, name: "copy", count: 2 }, message: "half" });
    expect(renderChangeLine(running)).toBe("7 import-users running 40% step 2/2 copy half");
    const retry = task({ status: "scheduled", tries: 1, nextRunAt: "2026-03-01T12:00:08.000Z", message: "refused" });
    expect(renderChangeLine(retry)).toBe("7 import-users scheduled 0% try 2/3 at 2026-03-01T12:00:08.000Z refused");
    const done = task({ status: "succeeded", completed: true, tries: 1, progress: 100, startedAt: at(12), finishedAt: at(0), message: "imported" });
    expect(renderSummaryLine(done, NOW)).toBe("✔ 7 import-users succeeded in 12s: imported");
    const failed = task({
      status: "failed",
      completed: true,
      tries: 2,
      startedAt: at(3),
      finishedAt: at(1),
      error: { message: "boom", stack: null, where: null },
    });
    expect(renderSummaryLine(failed, NOW)).toBe("✖ 7 import-users failed (try 2 of 3) in 2s: boom");
  });

  it("strips escape sequences from everything a task wrote", () => {
    const evil = task({ status: "running", executor: "x\u001b[2Jy", message: "a\u001b]0;title\u0007b\rc", step: { index: 0, name: "s\u009b31mt", count: 1 } });
    for (const line of [
      renderWatchLine({ task: evil, now: NOW, spinner: "⠙", remainingMs: null }, 200),
      renderChangeLine(evil),
      renderSummaryLine(evil, NOW),
    ]) {
      expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(line).toContain("xy");
    }
  });
});

describe("logs and status", () => {
  it("marks each try and keeps the marker state between calls", () => {
    const first = renderLogLines([
      { at: "2026-03-01T12:00:00.000Z", try: 1, stream: "stdout", text: "hello" },
      { at: "2026-03-01T12:00:01.000Z", try: 1, stream: "bgtask", text: "try 1 failed" },
      "not a log line \u001b[2J",
    ]);
    expect(first.text).toEqual(["── try 1 ──", "2026-03-01T12:00:00.000Z stdout hello", "2026-03-01T12:00:01.000Z bgtask try 1 failed", "not a log line "]);
    const next = renderLogLines([{ at: "2026-03-01T12:00:02.000Z", try: 2, stream: "log", text: "again\u001b]0;x\u0007" }], first.lastTry);
    expect(next.text).toEqual(["── try 2 ──", "2026-03-01T12:00:02.000Z log    again"]);
    expect(renderLogLines([{ at: "2026-03-01T12:00:03.000Z", try: 2, stream: "log", text: "more" }], 2).text).toEqual(["2026-03-01T12:00:03.000Z log    more"]);
  });

  it("status shows the bar, attributes, attachments, error with stack, and the log tail", () => {
    const failed = task({
      status: "failed",
      completed: true,
      tries: 1,
      progress: 40,
      attributes: { copied: 400, source: "users.csv", nested: { a: 1 } },
      attachments: [{ name: "report.csv", path: "/home/x/.bgtask/attachments/7/report.csv", size: 2048 }],
      error: { message: "boom", stack: "Error: boom\n    at run (tasks/import-users.ts:12:9)", where: "tasks/import-users.ts:12" },
    });
    const text = renderStatus(failed, NOW, [{ at: "2026-03-01T12:00:00.000Z", try: 1, stream: "stderr", text: "oops" }]);
    expect(text).toContain(`progress    ${progressBar(40)} 40%`);
    expect(text).toMatch(/attributes\n\s+NAME\s+VALUE\n\s+copied\s+400\n\s+source\s+users\.csv\n\s+nested\s+\{"a":1\}/);
    expect(text).toMatch(/attachments\n\s+NAME\s+SIZE\s+PATH\n\s+report\.csv\s+2\.0 KiB \(2048 B\)\s+\/home\/x\/\.bgtask\/attachments\/7\/report\.csv/);
    expect(text).toContain("error at tasks/import-users.ts:12\n  Error: boom\n      at run (tasks/import-users.ts:12:9)");
    expect(text).toContain("log (last lines)\n  ── try 1 ──\n  2026-03-01T12:00:00.000Z stderr oops");
  });
});

describe("event lines", () => {
  const event = (overrides: Partial<TaskEvent>): TaskEvent => ({
    cursor: "17",
    at: "2026-03-01T12:00:00.250Z",
    kind: "started",
    taskId: "7",
    executor: "import-users",
    try: 1,
    status: "running",
    ...overrides,
  });
  // The lines show local time: pinned here, and put back for the other tests.
  const zone = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = "Europe/Paris";
    return () => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    };
  });

  it("say cursor, local time, kind, task and try, the kinds padded so the tasks line up", () => {
    expect(renderEventLine(event({}))).toBe("17  2026-03-01 13:00:00.250  started          import-users #7  try 1");
    expect(renderEventLine(event({ kind: "retry-scheduled", status: "scheduled" }))).toBe(
      "17  2026-03-01 13:00:00.250  retry-scheduled  import-users #7  try 1",
    );
  });

  it("end with what the kind carries: progress and message, the error and next run, the schedule", () => {
    expect(renderEventLine(event({ kind: "progress", progress: 39.6, message: "copied 400 rows" }))).toMatch(/ {2}try 1 {2}40% {2}copied 400 rows$/);
    expect(renderEventLine(event({ kind: "retry-scheduled", error: "boom", nextRunAt: "2026-03-01T12:00:05.000Z" }))).toMatch(
      / {2}try 1 {2}boom {2}next run 2026-03-01 13:00:05\.000$/,
    );
    expect(renderEventLine(event({ kind: "schedule-fired", try: 0, schedule: { name: "nightly", slot: "2026-03-01T02:00:00.000Z" } }))).toMatch(
      / {2}try 0 {2}schedule nightly slot 2026-03-01 03:00:00\.000$/,
    );
  });

  it("strip terminal escapes from the executor, message, error and schedule name", () => {
    const line = renderEventLine(event({ kind: "failed", executor: "x\u001b]0;t\u0007y", error: "bad\u001b[2J\nnews" }));
    expect(line).toBe("17  2026-03-01 13:00:00.250  failed           xy #7  try 1  bad news");
  });
});

describe("terminal columns, not characters", () => {
  // Each of these takes two columns at a terminal; a count of characters sees one.
  const wide = "数据导入完成🎉表格👍".repeat(4);
  beforeAll(() => loadColumnsFor(wide, "报告.csv", "👨‍👩‍👧"));

  it("counts plain text (styles and bgtask's own symbols included) by its length, the rest in columns", () => {
    expect(columns("\u001b[1mID\u001b[22m  run · 40% █░…")).toBe(17);
    expect(columns("数据")).toBe(4);
  });

  it("cuts CJK and emoji to the width in columns, never splitting a character", () => {
    const cut = fitWidth(`task ${wide}`, 40);
    expect(stringWidth(cut)).toBeLessThanOrEqual(40);
    expect(stringWidth(cut)).toBeGreaterThanOrEqual(39);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut).not.toMatch(/\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    // A family emoji is one grapheme of several code points: kept whole or left out whole.
    expect(fitWidth("ab👨‍👩‍👧cd", 4)).toBe("ab…");
  });

  it("pads table cells to the same column whatever their script", () => {
    const lines = table(
      ["NAME", "SIZE"],
      [
        ["报告.csv", "1 KiB"],
        ["a.csv", "2 KiB"],
      ],
    ).split("\n");
    // The column each second cell starts at, counted in terminal columns.
    const starts = lines.map((l) => stringWidth(l.slice(0, l.search(/SIZE|\d KiB/))));
    expect(starts).toEqual([10, 10, 10]);
  });
});

describe("presentStack", () => {
  const stack = [
    "Error: disk said no",
    "    at writeAttachment (file:///opt/app/node_modules/bgtask/dist/worker/main.js:10:5)",
    "    at Object.attach (file:///opt/app/node_modules/bgtask/dist/worker/main.js:20:7)",
    "    at Object.run (/opt/app/tasks/report.ts:12:16)",
    "    at async executeTry (file:///opt/app/node_modules/bgtask/dist/worker/main.js:30:9)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
  ].join("\n");

  it("puts the executor's frames first and counts bgtask's own instead of showing them", () => {
    expect(presentStack(stack, "/opt/app/node_modules/bgtask/dist/")).toBe(
      [
        "Error: disk said no",
        "    at Object.run (/opt/app/tasks/report.ts:12:16)",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        "    … 3 frames inside bgtask (BGTASK_DEBUG=1 shows them)",
      ].join("\n"),
    );
  });

  it("shows the stack as it is when asked to hide nothing, or when nothing is bgtask's", () => {
    expect(presentStack(stack, null)).toBe(stack);
    expect(presentStack("Error: x\n    at run (/opt/app/tasks/a.ts:1:1)", "/opt/app/node_modules/bgtask/dist/")).toBe(
      "Error: x\n    at run (/opt/app/tasks/a.ts:1:1)",
    );
  });
});
