// withDiskPatience / patientStore: writes refused for want of space are retried until they land or
// the wait is over; every other error, and every read, passes straight through.
import { describe, expect, it } from "vitest";
import { journalIoError, JournalLockedError, LeaseLostError } from "../../src/errors.ts";
import type { JournalStore } from "../../src/journal/store.ts";
import { patientStore, withDiskPatience } from "../../src/worker/disk-patience.ts";

function noSpace(): Error {
  return journalIoError("/h/journal.1.log", Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" }));
}

/** A write that is refused `times` times, then returns "done". */
function refused(times: number, error: () => Error = noSpace) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    write: async () => {
      calls += 1;
      if (calls <= times) throw error();
      return "done";
    },
  };
}

describe("withDiskPatience", () => {
  it("retries a write refused for want of space until it lands", async () => {
    const write = refused(2);
    await expect(withDiskPatience("settle", write.write, { waitMs: 60_000 })).resolves.toBe("done");
    expect(write.calls).toBe(3);
  });

  it("retries a write that gave up on a journal lock one live process kept past the lock wait", async () => {
    const write = refused(2, () => new JournalLockedError("/h/journal.lock", 30_000, 4242));
    await expect(withDiskPatience("claimNext", write.write, { waitMs: 60_000 })).resolves.toBe("done");
    expect(write.calls).toBe(3);
  });

  it("passes any other error through at once", async () => {
    const write = refused(1, () => new LeaseLostError("7"));
    await expect(withDiskPatience("settle", write.write, { waitMs: 60_000 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(write.calls).toBe(1);
  });

  it("gives up with the write's own error once the wait is over", async () => {
    const write = refused(Infinity);
    await expect(withDiskPatience("settle", write.write, { waitMs: 300 })).rejects.toThrow(/no space left on the device holding/);
    expect(write.calls).toBeGreaterThan(1);
  });

  it("stops waiting when its signal is aborted", async () => {
    const write = refused(Infinity);
    const stop = new AbortController();
    const waiting = withDiskPatience("claim", write.write, { waitMs: 60_000, signal: stop.signal });
    stop.abort();
    await expect(waiting).rejects.toThrow(/no space left/);
  });
});

describe("patientStore", () => {
  it("makes writes and reads patient (a read failing while the database is down would end the worker too), and leaves fields and releaseWorker alone", async () => {
    const settle = refused(1);
    const get = refused(1);
    const release = refused(1);
    const fake = { location: "/h", settle: settle.write, get: get.write, releaseWorker: release.write } as unknown as JournalStore;
    const store = patientStore(fake, { waitMs: 60_000 });
    expect(store.location).toBe("/h");
    await expect(store.settle("1", "lease", { kind: "cancelled", message: null }, new Date())).resolves.toBe("done");
    await expect(store.get("1")).resolves.toBe("done");
    expect(get.calls).toBe(2);
    await expect(store.releaseWorker("slot")).rejects.toThrow(/no space left/);
    expect(release.calls).toBe(1);
  });
});
