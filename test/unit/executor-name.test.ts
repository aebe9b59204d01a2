// executor/discover.ts resolveExecutor: a name is checked before any path is built from it, so
// nothing a user types can reach outside the tasks directory. (Names argv cannot carry, like a NUL.)
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.ts";
import { resolveExecutor } from "../../src/executor/discover.ts";

const TASKS = "/nonexistent/tasks";

describe("resolveExecutor refuses bad names before touching the disk", () => {
  it.each([
    "x\u0000y",
    "../x",
    "/etc/passwd",
    "tasks/../../x",
    "x%2e%2e",
    "a/./b",
    "a//b",
    "a/",
    ".hidden",
    "-x",
    "a\\b",
    "a b",
    "x\u001b[2J",
    "",
    "é",
  ])("%j", (name) => {
    let error: unknown;
    try {
      resolveExecutor(TASKS, name);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe("EEXECUTORNAME");
    expect((error as UsageError).message).toMatch(/is not a valid executor name/);
    // The name is quoted JSON-escaped: control bytes in it never reach the message raw.
    // eslint-disable-next-line no-control-regex
    expect((error as UsageError).message).not.toMatch(/[\u0000-\u001f]/);
  });

  it("says a long name is too long", () => {
    expect(() => resolveExecutor(TASKS, "a".repeat(201))).toThrow(/is not a valid executor name: it is longer than 200 characters/);
  });

  it("lets a good name through to the lookup (which then reports the missing folder)", () => {
    expect(() => resolveExecutor(TASKS, "mail/send")).toThrow(/no executor "mail\/send": the tasks directory \/nonexistent\/tasks does not exist/);
  });
});
