// The live view against a fake terminal: frames redrawn in place, the spinner animated, and the
// frame erased (or kept on Ctrl-C) with the cursor shown again.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startLiveView } from "../../src/cli/output/live.ts";

function fakeTerminal(columns = 0, rows = 0) {
  let written = "";
  const stream = { isTTY: true, columns, rows, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WriteStream;
  return { stream, written: () => written };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("live view", () => {
  it("draws at once, animates the spinner, and sizes a 0×0 terminal as 80×24", () => {
    const terminal = fakeTerminal();
    const sizes: string[] = [];
    const frames: string[] = [];
    const view = startLiveView((spinner, size) => {
      sizes.push(`${size.columns}x${size.rows}`);
      frames.push(spinner);
      return `${spinner} task\nfooter`;
    }, terminal.stream);
    expect(terminal.written()).toContain("⠋ task\nfooter");
    vi.advanceTimersByTime(80 * 3);
    expect(frames.slice(0, 4)).toEqual(["⠋", "⠙", "⠹", "⠸"]);
    expect(sizes[0]).toBe("80x24");
    expect(terminal.written()).toContain("⠸ task");
    // In place: cursor up and erase, never a clear-screen.
    expect(terminal.written()).toContain("\u001b[1A");
    expect(terminal.written()).not.toContain("\u001b[2J");
    view.stop({ keep: false });
  });

  it("stop erases the frame; stop with keep leaves it and wipes the echoed ^C; nothing is drawn after", () => {
    const erased = fakeTerminal(100, 30);
    const view = startLiveView(() => "line one\nline two", erased.stream);
    view.stop({ keep: false });
    const after = erased.written();
    expect(after.endsWith("\u001b[2K\u001b[1A\u001b[2K\u001b[1A\u001b[2K\u001b[G\u001b[?2026l")).toBe(true);
    vi.advanceTimersByTime(1000);
    view.redraw();
    expect(erased.written()).toBe(after);

    const kept = fakeTerminal(100, 30);
    const view2 = startLiveView(() => "line one\nline two", kept.stream);
    view2.stop({ keep: true });
    expect(kept.written().endsWith("\r\u001b[K")).toBe(true);
  });
});
