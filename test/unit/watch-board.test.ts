// The watch board: what the runner posts about the try it runs is what the supervisor thread
// reads, and every post changes the generation the thread compares against.
import { describe, expect, it } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { WatchBoard } from "../../src/worker/supervisor.ts";

const task = (overrides: Partial<TaskRecord>) => ({ id: "1234567", lease: "p3k9-17", timeoutAt: null, timeoutMs: null, ...overrides }) as TaskRecord;

describe("WatchBoard", () => {
  it("reads back the try posted in a place through a second view of the same memory, and null after an unwatch", () => {
    const main = new WatchBoard(2);
    const thread = new WatchBoard(main.shared);
    expect(thread.read(1)).toBeNull();
    const before = Date.now();
    main.post(1, task({ timeoutAt: "2026-12-01T10:00:00.000Z", timeoutMs: 30_000 }));
    const seen = thread.read(1)!;
    expect(seen).toMatchObject({ id: "1234567", lease: "p3k9-17", timeoutAt: Date.parse("2026-12-01T10:00:00.000Z"), timeoutMs: 30_000 });
    expect(seen.since).toBeGreaterThanOrEqual(before);
    main.post(1, task({ id: "8", lease: "x" }));
    const next = thread.read(1)!;
    expect(next).toMatchObject({ id: "8", lease: "x", timeoutAt: null, timeoutMs: null });
    expect(next.generation).not.toBe(seen.generation);
    main.post(1, null);
    expect(thread.read(1)).toBeNull();
    expect(thread.generation(1)).not.toBe(next.generation);
  });

  it("keeps each place's try apart", () => {
    const main = new WatchBoard(2);
    const thread = new WatchBoard(main.shared);
    expect(thread.size).toBe(2);
    main.post(0, task({ id: "1", lease: "a" }));
    main.post(1, task({ id: "2", lease: "b" }));
    main.post(0, null);
    expect(thread.read(0)).toBeNull();
    expect(thread.read(1)).toMatchObject({ id: "2", lease: "b" });
  });

  it("forcing is seen on both sides", () => {
    const main = new WatchBoard(2);
    const thread = new WatchBoard(main.shared);
    expect(main.forcing).toBe(false);
    thread.setForcing();
    expect(main.forcing).toBe(true);
  });
});
