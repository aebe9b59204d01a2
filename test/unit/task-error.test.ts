// Where an executor threw, from its stack: the first frame inside the tasks directory, whatever
// characters the project's path holds.
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { whereThrown } from "../../src/worker/task-error.ts";

const root = "/home/ann/My Projects/shop (old)";
const tasksDir = `${root}/tasks`;

describe("whereThrown", () => {
  it("finds the frame under a path with spaces and parentheses, named or bare, as a path or a file URL", () => {
    const named = `Error: boom\n    at inner (/srv/lib/util.js:3:9)\n    at run (${tasksDir}/import users.ts:12:5)\n    at async Promise.all (index 0)`;
    expect(whereThrown(named, tasksDir, root)).toBe("tasks/import users.ts:12");
    const bare = `Error: boom\n    at ${tasksDir}/mail/send.ts:7:3`;
    expect(whereThrown(bare, tasksDir, root)).toBe("tasks/mail/send.ts:7");
    const url = `Error: boom\n    at run (${pathToFileURL(`${tasksDir}/x.mjs`).href}:4:1)`;
    expect(whereThrown(url, tasksDir, root)).toBe("tasks/x.mjs:4");
  });

  it("skips frames outside the tasks directory", () => {
    expect(whereThrown(`Error: boom\n    at f (${root}/node_modules/x/index.js:1:1)\n    at node:internal/main:2:3`, tasksDir, root)).toBeNull();
  });
});
