// journalIoError: one sentence naming the file, the errno code said once (in words where common).
import { describe, expect, it } from "vitest";
import { ioCodeOf, isNoSpace, journalIoError, JournalError } from "../../src/errors.ts";

function errno(code: string, text: string, syscall = "write", path?: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: ${text}, ${syscall}${path ? ` '${path}'` : ""}`) as NodeJS.ErrnoException;
  Object.assign(error, { code, syscall, ...(path ? { path } : {}) });
  return error;
}

describe("journalIoError", () => {
  it.each([
    ["ENOSPC", "no space left on device", "no space left on the device holding /h/journal.1.log; free some space and try again"],
    ["EDQUOT", "disk quota exceeded", "the disk quota is used up on the device holding /h/journal.1.log; free some space and try again"],
    [
      "EROFS",
      "read-only file system",
      "the file system holding /h/journal.1.log is read-only; remount it read-write, or choose another home with --home or BGTASK_HOME",
    ],
    ["EACCES", "permission denied", "permission denied on /h/journal.1.log; check the owner and mode of the file and of the bgtask home"],
    ["EPERM", "operation not permitted", "permission denied on /h/journal.1.log; check the owner and mode of the file and of the bgtask home"],
    ["EIO", "i/o error", "cannot read or write the journal at /h/journal.1.log (EIO: i/o error)"],
  ])("%s", (code, text, expected) => {
    const error = journalIoError("/h/journal.1.log", errno(code, text, "open", "/h/journal.1.log"));
    expect(error).toBeInstanceOf(JournalError);
    expect(error.code).toBe("EJOURNALIO");
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe(expected);
    expect(error.message.split(code).length).toBeLessThanOrEqual(2);
  });

  it("words an error without a code by its message alone", () => {
    expect(journalIoError("/h/x", "torn").message).toBe("cannot read or write the journal at /h/x (torn)");
  });
});

describe("ioCodeOf / isNoSpace", () => {
  it("finds the errno code through a journal error's cause, never a bgtask code", () => {
    const wrapped = journalIoError("/h/x", errno("ENOSPC", "no space left on device"));
    expect(ioCodeOf(wrapped)).toBe("ENOSPC");
    expect(isNoSpace(wrapped)).toBe(true);
    expect(isNoSpace(errno("EDQUOT", "disk quota exceeded"))).toBe(true);
    expect(isNoSpace(errno("EROFS", "read-only file system"))).toBe(false);
    expect(ioCodeOf(new JournalError("EJOURNALCORRUPT", "bad"))).toBeUndefined();
    expect(ioCodeOf("ENOSPC")).toBeUndefined();
  });
});
