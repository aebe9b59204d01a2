// The results: a row per figure (median of its runs, min–max, ratio to the floor N, target, verdict),
// printed as an aligned text table and, on request, as Markdown for docs/performance.md.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const UNITS = {
  ms: (v) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`),
  rate: (v) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}/s`,
  mb: (v) => `${v.toFixed(1)} MB`,
  // Batched writes make a per-task count a small fraction: two significant digits, not "0.0".
  count: (v) => (Number.isInteger(v) ? String(v) : v >= 1 ? v.toFixed(1) : v.toPrecision(2)),
};

export function formatValue(value, unit) {
  return UNITS[unit](value);
}

export function formatCount(n) {
  return n.toLocaleString("en-US");
}

/**
 * A measured figure. `values` are the runs; `floors` the floor runs made beside them (else the
 * bench's N is used); `target(median, floor)` says { text, ok } or null; `perFloor` shows
 * value/N (times only). A figure that could not be measured has `error`.
 */
export class Results {
  constructor() {
    this.rows = [];
    this.notes = [];
    this.failures = 0;
  }

  add(row) {
    this.rows.push(row);
    return row;
  }

  fail(label, history, error) {
    this.failures += 1;
    this.rows.push({ label, history, values: [], error: error instanceof Error ? error.message : String(error) });
  }

  note(text) {
    this.notes.push(text);
  }

  cells(floorMs) {
    return this.rows.map((row) => {
      if (row.error) return [row.label, row.history ?? "", "could not measure", "", "", "", `(${row.error.split("\n")[0].slice(0, 120)})`];
      if (row.skipped) return [row.label, row.history ?? "", "skipped", "", "", "", row.skipped];
      const m = median(row.values);
      const range = row.values.length > 1 ? `${formatValue(Math.min(...row.values), row.unit)}–${formatValue(Math.max(...row.values), row.unit)}` : "(1 run)";
      // A time is compared with the floor runs made beside its own runs when it has them.
      const n = row.floors?.length ? median(row.floors) : floorMs;
      const ratio = row.perFloor ? `${(m / n).toFixed(2)} N` : "";
      const target = row.target ? row.target(m, n) : null;
      return [row.label, row.history ?? "", formatValue(m, row.unit), range, ratio, target?.text ?? "", target ? (target.ok ? "met" : "MISSED") : ""];
    });
  }

  text(floorMs) {
    const head = ["figure", "history", "median", "min–max", "ratio", "target", ""];
    const rows = [head, ...this.cells(floorMs)];
    const widths = head.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
    const line = (r) =>
      r
        .map((c, i) => c + " ".repeat(widths[i] - [...c].length))
        .join("  ")
        .trimEnd();
    return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
  }

  markdown(floorMs) {
    const head = ["figure", "history", "median", "min–max", "ratio to N", "target", "verdict"];
    const esc = (c) => c.replaceAll("|", "\\|");
    return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...this.cells(floorMs).map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
  }
}
