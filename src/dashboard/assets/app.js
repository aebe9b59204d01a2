// The dashboard page: plain DOM, no framework. Every piece of text that comes from a task is put
// in with textContent (through h() below), never as HTML. Live updates come from the server's
// event stream (/api/events), which sends the records that changed; the page never polls.

const STATUSES = ["queued", "scheduled", "running", "paused", "succeeded", "failed", "cancelled"];
const main = document.getElementById("main");
let session = null;
let view = null;

const SVG_TAGS = new Set(["svg", "polyline", "rect", "title"]);

/** An element with attributes/properties and children; strings become text nodes, never markup. */
function h(tag, props = {}, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return fill(el, children, true);
}

/** Puts `children` (nested arrays; null, undefined and false left out) into `el`, in place of what it held unless `keep`. */
function fill(el, children, keep = false) {
  if (!keep) el.replaceChildren();
  for (const child of [children].flat(Number.POSITIVE_INFINITY))
    if (child !== null && child !== undefined && child !== false) el.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  return el;
}

/** fill() as a call on `el`'s children: fillWith(el)(a, [b, c], null). */
const fillWith =
  (el) =>
  (...children) =>
    fill(el, children);

async function api(path, options = {}) {
  const headers = {
    ...(options.body ? { "content-type": "application/json" } : {}),
    ...(options.method && options.method !== "GET" ? { "x-bgtask-csrf": session.csrf } : {}),
  };
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

const statusEl = (status) => h("span", { class: `status status-${status}`, "data-status": status }, status);
const bar = (percent, big = false) => {
  const fill = h("span");
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h("span", { class: big ? "bar big" : "bar", role: "progressbar", "aria-valuenow": percent }, fill);
};

function ago(iso) {
  if (!iso) return "-";
  return duration(Date.now() - Date.parse(iso));
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A span of time as the task table shows waits and runs: milliseconds under a second, then as duration() says. */
function span(ms) {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : duration(ms);
}

/** Time left at the rate so far in this try; null when it cannot be told yet. */
function eta(task) {
  if (task.status !== "running" || !task.startedAt || task.progress <= 0 || task.progress >= 100) return null;
  const elapsed = Date.now() - Date.parse(task.startedAt);
  return (elapsed * (100 - task.progress)) / task.progress;
}

function showError(where, error) {
  where.replaceChildren(h("div", { class: "notice", role: "alert" }, error.message));
}

// ---- overview ---------------------------------------------------------------------------------

function spark(values) {
  const width = 300;
  const height = 60;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 4 - (v / max) * (height - 8)).toFixed(1)}`).join(" ");
  return h("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, "aria-label": "tasks finished per minute" }, h("polyline", { points }));
}

const ENDS = ["succeeded", "failed", "cancelled"];

/**
 * One executor's activity as plain SVG (a chart library would outweigh the page): a bar per span,
 * its tasks stacked by how they ended, and the average run time of each span as a line on a scale
 * of its own. Each bar's title says its figures.
 */
function activityChart(buckets, bucketMs, until) {
  const width = 480;
  const height = 80;
  const step = width / buckets.length;
  const most = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed + b.cancelled));
  const runs = buckets.map((b) => (b.ran ? b.runMs / b.ran : null));
  const longest = Math.max(1, ...runs.filter((r) => r !== null));
  const end = Date.parse(until);
  const bars = buckets.flatMap((b, i) => {
    let y = height;
    const from = new Date(end - (buckets.length - i) * bucketMs).toISOString().slice(11, 16);
    const title = `${from}: ${b.succeeded} succeeded, ${b.failed} failed, ${b.cancelled} cancelled${b.ran ? `; average wait ${span(b.waitMs / b.ran)}, run ${span(b.runMs / b.ran)}` : ""}`;
    return ENDS.filter((s) => b[s] > 0).map((s) => {
      const tall = (b[s] / most) * (height - 4);
      y -= tall;
      return h(
        "rect",
        { class: `bar-${s}`, x: (i * step).toFixed(1), y: y.toFixed(1), width: Math.max(1, step - 1).toFixed(1), height: tall.toFixed(1) },
        h("title", {}, title),
      );
    });
  });
  const points = runs
    .map((r, i) => (r === null ? null : `${(i * step + step / 2).toFixed(1)},${(height - 2 - (r / longest) * (height - 6)).toFixed(1)}`))
    .filter(Boolean)
    .join(" ");
  return h("svg", { class: "activity", width, height, viewBox: `0 0 ${width} ${height}` }, bars, points ? h("polyline", { class: "run-line", points }) : null);
}

/** The activity of every executor over the last hour or day, fetched at most every few seconds while the overview shows. */
function activityPanel() {
  const root = h("div", { id: "activity" });
  let chosen = "hour";
  let fetchedAt = 0;
  const sum = (buckets, key) => buckets.reduce((n, b) => n + b[key], 0);
  const render = (activity) => {
    const names = Object.keys(activity.executors).sort((a, b) => a.localeCompare(b));
    const pick = (name, label) => h("button", { class: name === chosen ? "" : "secondary", "data-window": name, onclick: () => load(name) }, label);
    fillWith(root)(
      h("div", { class: "window" }, pick("hour", "Last hour"), " ", pick("day", "Last day")),
      names.length === 0
        ? h("p", { class: "muted" }, `no task ended in the last ${chosen}`)
        : names.map((name) => {
            const buckets = activity.executors[name];
            const ran = sum(buckets, "ran");
            const [succeeded, failed, cancelled] = ENDS.map((s) => sum(buckets, s));
            return h(
              "div",
              { class: "activity-row", "data-activity": name, "data-succeeded": succeeded, "data-failed": failed, "data-cancelled": cancelled },
              h("h3", {}, name),
              h(
                "p",
                { class: "muted" },
                `${succeeded + failed + cancelled} ended: ${succeeded} succeeded, ${failed} failed, ${cancelled} cancelled`,
                ran ? `; average wait ${span(sum(buckets, "waitMs") / ran)}, run ${span(sum(buckets, "runMs") / ran)}` : "",
              ),
              activityChart(buckets, activity.bucketMs, activity.until),
            );
          }),
    );
  };
  const load = async (name = chosen) => {
    chosen = name;
    fetchedAt = Date.now();
    try {
      render(await api(`/api/activity?window=${name}`));
    } catch (error) {
      showError(root, error);
    }
  };
  load();
  return { root, changed: () => Date.now() - fetchedAt > 5_000 && load() };
}

/** The bulk actions, each with the statuses of the tasks it acts on and the words of its question and answer. */
const BULK = [
  { action: "retry-failed", label: "Retry failed", statuses: ["failed"], verb: "Retry", what: "failed", done: "queued again" },
  { action: "cancel-queued", label: "Cancel queued", statuses: ["queued", "scheduled"], verb: "Cancel", what: "waiting", done: "cancelled" },
  { action: "remove-finished", label: "Remove finished", statuses: ["succeeded", "failed", "cancelled"], verb: "Remove", what: "finished", done: "removed" },
];

function overviewView() {
  const root = h("section", { id: "overview" }, h("h1", {}, "Overview"), h("p", { class: "muted" }, "loading…"));
  const activity = activityPanel();
  // Outlives each render: the answer to a bulk action stays until the next one.
  const notice = h("div", { id: "bulk-notice" });
  // One button per bulk action over `counts` (by status) of one executor, or of all when `executor` is null; asked first.
  const bulkButtons = (counts, executor) =>
    BULK.map(({ action, label, statuses, verb, what, done }) => {
      const n = statuses.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
      const whose = executor === null ? "" : ` of ${executor}`;
      const run = async () => {
        if (!confirm(`${verb} the ${n} ${what} task${n === 1 ? "" : "s"}${whose}?`)) return;
        try {
          const { ids } = await api(`/api/bulk/${action}`, { method: "POST", body: JSON.stringify(executor === null ? {} : { executor }) });
          render(await api("/api/stats"));
          notice.replaceChildren(h("div", { class: "ok", role: "status" }, `${ids.length} task${ids.length === 1 ? "" : "s"}${whose} ${done}`));
        } catch (error) {
          showError(notice, error);
        }
      };
      return h("button", { class: action === "retry-failed" ? "" : "secondary", disabled: n === 0, "data-bulk": action, onclick: run }, label);
    });
  const toggleQueue = (name, pausing) => async () => {
    try {
      await api(`/api/queues/${encodeURIComponent(name)}/${pausing ? "pause" : "resume"}`, { method: "POST", body: "{}" });
      render(await api("/api/stats"));
    } catch (error) {
      showError(root, error);
    }
  };
  const render = ({ stats, workers, paused }) => {
    const pausedSet = new Set(paused);
    // A paused queue with no tasks yet still has a row, to resume it from.
    const executors = [...new Set([...Object.keys(stats.byExecutor), ...paused])].sort((a, b) => a.localeCompare(b));
    const total = Object.values(stats.byStatus).reduce((a, b) => a + b, 0);
    const statuses = STATUSES.filter((s) => Object.values(stats.byExecutor).some((row) => row[s] !== undefined));
    fillWith(root)(
      h("h1", {}, "Overview"),
      h(
        "div",
        { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "n", "data-count": "total" }, total), h("div", { class: "k" }, "tasks")),
        STATUSES.map((s) =>
          h(
            "a",
            { class: "card", href: `#/tasks?status=${s}` },
            h("div", { class: "n", "data-count": s }, stats.byStatus[s] ?? 0),
            h("div", { class: "k" }, statusEl(s)),
          ),
        ),
        h("div", { class: "card" }, h("div", { class: "n", "data-count": "workers" }, stats.liveWorkers), h("div", { class: "k" }, "live workers")),
        h(
          "div",
          { class: "card" },
          h("div", { class: "n" }, stats.oldestQueued ? duration(stats.oldestQueued.ageMs) : "-"),
          h("div", { class: "k" }, "oldest queued"),
        ),
      ),
      h("h2", {}, `Finished per minute, last ${stats.throughput.minutes} minutes (average ${stats.throughput.average}/min)`),
      spark(stats.throughput.perMinute),
      h("h2", {}, "Activity by executor"),
      h("p", { class: "muted" }, "Tasks that ended in each span, by how they ended; the line is their average run time."),
      activity.root,
      h("h2", {}, "By executor"),
      notice,
      executors.length === 0
        ? h("p", { class: "muted" }, "no tasks yet")
        : h(
            "table",
            {},
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", {}, "executor"),
                statuses.map((s) => h("th", {}, s)),
                h("th", {}, "queue"),
                h("th", {}, "every task of a status"),
              ),
            ),
            h(
              "tbody",
              {},
              h(
                "tr",
                { "data-executor": "" },
                h("td", {}, h("strong", {}, "all")),
                statuses.map((s) => h("td", {}, stats.byStatus[s] ?? 0)),
                h("td", {}),
                h("td", { class: "bulk" }, bulkButtons(stats.byStatus, null)),
              ),
              executors.map((name) =>
                h(
                  "tr",
                  { "data-executor": name },
                  h("td", {}, h("a", { href: `#/tasks?executor=${encodeURIComponent(name)}` }, name)),
                  statuses.map((s) => h("td", {}, stats.byExecutor[name]?.[s] ?? 0)),
                  h(
                    "td",
                    {},
                    pausedSet.has(name)
                      ? h("span", { class: "status status-paused", "data-queue": "paused" }, "paused ")
                      : h("span", { class: "muted", "data-queue": "open" }, "open "),
                    h("button", { onclick: toggleQueue(name, !pausedSet.has(name)) }, pausedSet.has(name) ? "Resume" : "Pause"),
                  ),
                  h("td", { class: "bulk" }, bulkButtons(stats.byExecutor[name] ?? {}, name)),
                ),
              ),
            ),
          ),
      h("h2", {}, "Workers"),
      workers.length === 0
        ? h("p", { class: "muted" }, "no workers running")
        : h(
            "table",
            { id: "workers" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["host", "pid", "state", "task", "last heartbeat"].map((k) => h("th", {}, k)),
              ),
            ),
            h(
              "tbody",
              {},
              workers.map((w) =>
                h(
                  "tr",
                  {},
                  h("td", {}, w.host ?? "?"),
                  h("td", {}, w.pid ?? "-"),
                  h("td", {}, w.state),
                  h(
                    "td",
                    {},
                    w.task
                      ? h(
                          "a",
                          { href: `#/task/${w.task.id}` },
                          w.running > 1 ? `${w.running} tasks (${w.task.id} ${w.task.executor} …)` : `${w.task.id} ${w.task.executor} ${w.task.progress}%`,
                        )
                      : "idle",
                  ),
                  h("td", {}, w.lastHeartbeatAt ? `${ago(w.lastHeartbeatAt)} ago` : "-"),
                ),
              ),
            ),
          ),
    );
  };
  api("/api/stats").then(render, (error) => showError(root, error));
  return {
    root,
    overview(stats) {
      render(stats);
      activity.changed();
    },
  };
}

// ---- task table -------------------------------------------------------------------------------

/** core/list-order.ts's search in a context: a string anywhere in it (keys aside) contains `needle`, in lower case. */
function hasText(value, needle) {
  if (typeof value === "string") return value.toLowerCase().includes(needle);
  return typeof value === "object" && value !== null && Object.values(value).some((inner) => hasText(inner, needle));
}

/** How long a task waited from its creation to its (last) try's start; so far, while it waits. */
function waited(task) {
  if (task.startedAt) return span(Date.parse(task.startedAt) - Date.parse(task.createdAt));
  return task.completed ? "-" : `${span(Date.now() - Date.parse(task.createdAt))} so far`;
}

/** How long its (last) try ran; so far, while it runs. */
function ran(task) {
  if (!task.startedAt) return "-";
  const end = task.finishedAt ? Date.parse(task.finishedAt) : task.status === "running" ? Date.now() : null;
  return end === null ? "-" : `${span(end - Date.parse(task.startedAt))}${task.finishedAt ? "" : " so far"}`;
}

function tasksView(params) {
  const state = {
    status: params.get("status") ?? "",
    executor: params.get("executor") ?? "",
    q: params.get("q") ?? "",
    order: params.get("order") ?? "newest",
    page: Number(params.get("page") ?? 0) || 0,
  };
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const notice = h("div");
  const rows = new Map();
  const go = (change) => {
    const next = { ...state, ...change };
    const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== "" && v !== 0 && v !== "newest"));
    location.hash = `#/tasks${query.size ? `?${query}` : ""}`;
  };
  const row = (task) =>
    h(
      "tr",
      { "data-id": task.id },
      h("td", {}, h("a", { href: `#/task/${task.id}` }, task.id)),
      h("td", {}, task.executor),
      h("td", {}, statusEl(task.status)),
      h("td", {}, bar(task.progress), ` ${task.progress}%`),
      h("td", {}, `${task.tries}/${task.maxTries}`),
      h("td", {}, ago(task.createdAt)),
      h("td", { "data-time": "waited" }, waited(task)),
      h("td", { "data-time": "ran" }, ran(task)),
      h("td", { class: "msg" }, task.message ?? ""),
    );
  const matches = (task) =>
    (!state.status || state.status.split(",").includes(task.status)) &&
    (!state.executor || task.executor === state.executor) &&
    (!state.q || task.id === state.q || (task.message ?? "").toLowerCase().includes(state.q.toLowerCase()) || hasText(task.context, state.q.toLowerCase()));
  const load = async () => {
    const query = new URLSearchParams({ order: state.order, page: String(state.page) });
    if (state.status) query.set("status", state.status);
    if (state.executor) query.set("executor", state.executor);
    if (state.q) query.set("q", state.q);
    try {
      const page = await api(`/api/tasks?${query}`);
      rows.clear();
      fillWith(body)(
        ...page.tasks.map((task) => {
          const el = row(task);
          rows.set(task.id, el);
          return el;
        }),
      );
      if (page.tasks.length === 0) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no tasks")));
      fillWith(pager)(
        h("button", { class: "secondary", disabled: state.page === 0, onclick: () => go({ page: state.page - 1 }) }, "← newer"),
        h("span", { class: "muted" }, `page ${state.page + 1}`),
        h("button", { class: "secondary", disabled: !page.more, onclick: () => go({ page: state.page + 1 }) }, "older →"),
      );
      notice.replaceChildren();
    } catch (error) {
      showError(notice, error);
    }
  };
  let reloading = false;
  const later = () => {
    if (reloading) return;
    reloading = true;
    setTimeout(() => {
      reloading = false;
      void load();
    }, 300);
  };
  const search = h("input", { type: "search", placeholder: "id, message or context text", value: state.q, "aria-label": "search" });
  search.addEventListener("change", () => go({ q: search.value.trim(), page: 0 }));
  const select = (name, options, value) => {
    const el = h(
      "select",
      { "aria-label": name, name },
      options.map(([v, label]) => h("option", { value: v }, label)),
    );
    el.value = value;
    el.addEventListener("change", () => go({ [name]: el.value, page: 0 }));
    return el;
  };
  const root = h(
    "section",
    { id: "tasks" },
    h("h1", {}, "Tasks"),
    h(
      "div",
      { class: "filters" },
      select("status", [["", "any status"], ...STATUSES.map((s) => [s, s])], state.status),
      select("executor", [["", "any executor"], ...session.executors.map((e) => [e, e])], state.executor),
      search,
      select(
        "order",
        [
          ["newest", "newest first"],
          ["claim", "claim order"],
        ],
        state.order,
      ),
    ),
    notice,
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["id", "executor", "status", "progress", "tries", "age", "waited", "ran", "message"].map((k) => h("th", {}, k)),
        ),
      ),
      body,
    ),
    pager,
  );
  void load();
  return {
    root,
    tasks({ all, tasks, gone }) {
      if (all || gone.some((id) => rows.has(id))) return later();
      for (const task of tasks) {
        const old = rows.get(task.id);
        if (old && matches(task)) {
          const el = row(task);
          old.replaceWith(el);
          rows.set(task.id, el);
        } else if (old || (state.page === 0 && matches(task))) later();
      }
    },
  };
}

// ---- one task ---------------------------------------------------------------------------------

function json(value) {
  return h("pre", { class: "light" }, JSON.stringify(value, null, 2));
}

function taskView(id) {
  const head = h("div");
  const details = h("div");
  const log = h("pre", { id: "log" });
  const notice = h("div");
  let task = null;
  const act = (action) => async () => {
    try {
      notice.replaceChildren();
      const result = await api(`/api/tasks/${encodeURIComponent(id)}/${action}`, { method: "POST", body: "{}" });
      if (action === "remove") location.hash = "#/tasks";
      else if (result.task) render(result.task);
    } catch (error) {
      showError(notice, error);
    }
  };
  const render = (next) => {
    if (task?.completed && !next.completed && stream === null) streamLog();
    task = next;
    const left = eta(task);
    fillWith(head)(
      h("h1", {}, `Task ${task.id} · ${task.executor} · `, statusEl(task.status)),
      h(
        "div",
        {},
        bar(task.progress, true),
        h("span", { id: "progress" }, ` ${task.progress}%`),
        left === null ? "" : h("span", { class: "muted" }, ` · about ${duration(left)} left`),
      ),
      h("p", { id: "message" }, task.message ?? ""),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "danger", disabled: task.completed, onclick: act("cancel") }, "Cancel"),
        h("button", { disabled: !task.completed, onclick: act("retry") }, "Retry"),
        h("button", { class: "secondary", disabled: task.status === "running", onclick: act("remove") }, "Remove"),
      ),
    );
    fillWith(details)(
      h(
        "dl",
        {},
        h("dt", {}, "tries"),
        h("dd", {}, `${task.tries} of ${task.maxTries} (${task.remainingTries} left)`),
        h("dt", {}, "created"),
        h("dd", {}, `${task.createdAt} (${ago(task.createdAt)} ago)`),
        h("dt", {}, "started"),
        h("dd", {}, task.startedAt ?? "-"),
        h("dt", {}, "finished"),
        h("dd", {}, task.finishedAt ?? "-"),
        h("dt", {}, "next run"),
        h("dd", {}, task.nextRunAt ?? "-"),
        h("dt", {}, "worker"),
        h("dd", {}, task.worker ? `pid ${task.worker.pid} on ${task.worker.host}` : "-"),
        task.step ? [h("dt", {}, "step"), h("dd", {}, `${task.step.index + 1} of ${task.step.count}: ${task.step.name}`)] : null,
      ),
      h("h2", {}, "Context"),
      json(task.context),
      Object.keys(task.attributes).length ? [h("h2", {}, "Attributes"), json(task.attributes)] : null,
      Object.keys(task.state).length ? [h("h2", {}, "State"), json(task.state)] : null,
      task.result !== null ? [h("h2", {}, "Result"), json(task.result)] : null,
      h("h2", {}, "Tries"),
      task.history.length === 0
        ? h("p", { class: "muted" }, "not run yet")
        : task.history.map((t) =>
            h(
              "div",
              { class: "try" },
              h("div", {}, `try ${t.try} · `, statusEl(t.status), ` · ${t.startedAt}${t.finishedAt ? ` → ${t.finishedAt}` : ""}`),
              t.error
                ? [
                    h("p", { class: "error" }, t.error.message),
                    t.error.where ? h("p", { class: "muted" }, `at ${t.error.where}`) : null,
                    t.error.stack ? h("pre", {}, t.error.stack) : null,
                  ]
                : null,
            ),
          ),
      h("h2", {}, "Attachments"),
      task.attachments.length === 0
        ? h("p", { class: "muted" }, "none")
        : h(
            "ul",
            { id: "attachments" },
            task.attachments.map((a) =>
              h(
                "li",
                {},
                h("a", { href: `/api/tasks/${encodeURIComponent(task.id)}/attachments/${encodeURIComponent(a.name)}`, download: a.name }, a.name),
                h("span", { class: "muted" }, ` ${a.size} bytes`),
              ),
            ),
          ),
    );
  };
  // The log streams until the task is final; a retry from this page streams it anew.
  let stream = null;
  const streamLog = () => {
    log.replaceChildren();
    stream = new EventSource(`/api/tasks/${encodeURIComponent(id)}/log`);
    stream.addEventListener("lines", (event) => {
      for (const line of JSON.parse(event.data))
        log.append(typeof line === "string" ? `${line}\n` : `${line.at} [try ${line.try}] ${line.stream} | ${line.text}\n`);
      log.scrollTop = log.scrollHeight;
    });
    stream.addEventListener("end", () => {
      stream.close();
      stream = null;
    });
  };
  streamLog();
  const root = h("section", { id: "task" }, notice, head, details, h("h2", {}, "Log"), log);
  api(`/api/tasks/${encodeURIComponent(id)}`).then(
    (body) => render(body.task),
    (error) => showError(notice, error),
  );
  // A running task's time left moves on between changes too.
  const clock = setInterval(() => task && task.status === "running" && render(task), 1000);
  return {
    root,
    leave() {
      stream?.close();
      clearInterval(clock);
    },
    tasks({ tasks, gone }) {
      const mine = tasks.find((t) => t.id === id);
      if (mine) render(mine);
      if (gone.includes(id)) showError(notice, new Error(`task ${id} was removed`));
    },
  };
}

// ---- run a task -------------------------------------------------------------------------------

function runView() {
  const notice = h("div");
  const executor = h(
    "select",
    { name: "executor", "aria-label": "executor" },
    session.executors.map((e) => h("option", { value: e }, e)),
  );
  const context = h("textarea", { name: "context", "aria-label": "context", spellcheck: "false" });
  context.value = "{}";
  const form = h(
    "form",
    { class: "run" },
    h("label", {}, "Executor ", executor),
    h("label", {}, "Context (a JSON object)", h("br"), context),
    h("div", {}, h("button", { type: "submit" }, "Run")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    notice.replaceChildren();
    try {
      const { task } = await api("/api/tasks", { method: "POST", body: JSON.stringify({ executor: executor.value, context: context.value }) });
      location.hash = `#/task/${task.id}`;
    } catch (error) {
      showError(notice, error);
    }
  });
  return {
    root: h(
      "section",
      { id: "run" },
      h("h1", {}, "Run a task"),
      session.executors.length ? form : h("p", { class: "muted" }, "no executors found in the tasks directory"),
      notice,
    ),
  };
}

// ---- schedules ----------------------------------------------------------------------------------

function schedulesView() {
  const body = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const when = (iso) => (Date.parse(iso) >= Date.now() ? `in ${duration(Date.parse(iso) - Date.now())}` : `${ago(iso)} ago`);
  const render = ({ schedules }) =>
    fillWith(body)(
      schedules.length === 0
        ? h("p", { class: "muted" }, "no schedules in bgtask.config.json")
        : h(
            "table",
            { id: "schedules" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["name", "executor", "cron", "next slot", "last slot", "its task"].map((k) => h("th", {}, k)),
              ),
            ),
            h(
              "tbody",
              {},
              schedules.map((s) =>
                h(
                  "tr",
                  { "data-schedule": s.name },
                  h("td", {}, s.name),
                  h("td", {}, h("a", { href: `#/tasks?executor=${encodeURIComponent(s.executor)}` }, s.executor)),
                  h("td", {}, h("code", {}, s.cron), s.timezone ? ` (${s.timezone})` : ""),
                  h("td", { "data-slot": "next" }, s.nextRunAt ? `${s.nextRunAt} (${when(s.nextRunAt)})` : "none"),
                  h("td", { "data-slot": "last" }, s.last ? `${s.last.slot} (${when(s.last.slot)})` : "never"),
                  h(
                    "td",
                    { "data-slot": "task" },
                    s.last ? [h("a", { href: `#/task/${s.last.taskId}` }, s.last.taskId), " ", s.lastStatus ? statusEl(s.lastStatus) : "removed"] : "-",
                  ),
                ),
              ),
            ),
          ),
    );
  const load = () => api("/api/schedules").then(render, (error) => showError(body, error));
  load();
  // Fired slots and their tasks' ends come through the feed as task changes.
  return { root: h("section", { id: "schedules-page" }, h("h1", {}, "Schedules"), body), tasks: load };
}

// ---- routing and the live feed ----------------------------------------------------------------

function route() {
  view?.leave?.();
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const task = /^\/task\/([1-9][0-9]*)$/.exec(path);
  const name = task ? "task" : path === "/tasks" ? "tasks" : path === "/run" ? "run" : path === "/schedules" ? "schedules" : "overview";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === name);
  view = task ? taskView(task[1]) : name === "tasks" ? tasksView(params) : name === "run" ? runView() : name === "schedules" ? schedulesView() : overviewView();
  main.replaceChildren(view.root);
}

function connect() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    live.textContent = "live";
    live.classList.add("on");
  });
  events.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
  });
  events.addEventListener("tasks", (event) => view?.tasks?.(JSON.parse(event.data)));
  events.addEventListener("overview", (event) => view?.overview?.(JSON.parse(event.data)));
}

async function showReads() {
  const { storeReads } = await api("/api/metrics");
  document.getElementById("reads").textContent = `journal reads by this dashboard: ${storeReads}`;
}

async function start() {
  try {
    session = await api("/api/session");
  } catch (error) {
    showError(main, error);
    return;
  }
  document.getElementById("root").textContent = session.root;
  window.addEventListener("hashchange", route);
  route();
  connect();
  void showReads();
  setInterval(() => void showReads().catch(() => undefined), 5000);
}

void start();
