// A task must not be able to steer the terminal of whoever looks at it: messages, attributes and
// log lines are shown stripped of escape sequences and control characters in list, status,
// watch (terminal and pipe), logs and events; --json keeps them as they were.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { useProject } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";
import { runInPty } from "../helpers/pty.ts";

// Retitle the window, clear the screen, plant a link, write the clipboard, an 8-bit CSI, BEL, CR.
const EVIL = "start\u001b]0;pwned\u0007\u001b[2J\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\\u001b]52;c;aGk=\u0007\u009b31m\u0007\rend";
const SHOWN = "startlinkend";
const FORBIDDEN = ["\u001b]", "\u001b[2J", "\u009b", "\u0007"];
// What the sequences carried goes with them (status shows the context as JSON, escaped, so not there).
const PAYLOADS = ["pwned", "http://x", "aGk="];

function expectClean(output: string, where: string, payloads = true): void {
  for (const bad of [...FORBIDDEN, ...(payloads ? PAYLOADS : [])]) expect(output.includes(bad), `${where} shows ${JSON.stringify(bad)}`).toBe(false);
  expect(output, where).toContain(SHOWN);
}

describe("untrusted text", () => {
  it("is stripped in list, status, watch, logs and events, and raw in --json", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.ts": fixture("gated.ts") } });
    const id = await project.run("gated", [
      "--ctx",
      JSON.stringify({ dir: project.dir, stages: [{ progress: 50, message: EVIL, attributes: { note: EVIL }, log: EVIL, print: EVIL }], done: EVIL }),
    ]);
    await project.waitForTask(id, (t) => t.message === EVIL && t.attributes.note === EVIL);

    const list = await project.cli(["list"]);
    expectClean(list.stdout, "list");
    expect(list.stdout).not.toContain("\r");
    const status = await project.cli(["status", id]);
    expectClean(status.stdout, "status", false);
    expect(status.stdout).toMatch(new RegExp(`note\\s+${SHOWN}`));
    const logs = await project.cli(["logs", id]);
    expectClean(logs.stdout, "logs");
    expect(logs.stdout).toMatch(new RegExp(`Z stdout ${SHOWN}$`, "m"));
    expect(logs.stdout).toMatch(new RegExp(`Z log    ${SHOWN}$`, "m"));
    const events = await project.cli(["events"]);
    expectClean(events.stdout, "events");
    expect(events.stdout).toMatch(new RegExp(`  50%  ${SHOWN}$`, "m"));

    expect((await project.status(id)).message).toBe(EVIL);
    expect((await project.list()).find((t) => t.id === id)?.attributes.note).toBe(EVIL);
    const jsonLogs = JSON.parse((await project.cli(["logs", id, "--json"])).stdout) as { text: string }[];
    expect(jsonLogs.filter((l) => l.text === EVIL)).toHaveLength(2);
    const jsonEvents = (await project.cli(["events", "--json"])).stdout.trimEnd().split("\n");
    expect(jsonEvents.filter((line) => (JSON.parse(line) as { message?: string }).message === EVIL)).toHaveLength(1);

    const tty = runInPty(project, ["watch", id], onTestFinished);
    const piped = project.cli(["watch", id]);
    await tty.waitForOutput(new RegExp(SHOWN));
    writeFileSync(join(project.dir, "gate-0"), "");
    expect(await tty.exited).toBe(0);
    expectClean(tty.output(), "watch in a terminal");
    const pipedResult = await piped;
    expect(pipedResult.code).toBe(0);
    expectClean(pipedResult.stdout, "piped watch");
    expect(pipedResult.stdout).not.toContain("\r");
    expect(pipedResult.stdout).not.toContain("\u001b");
  });
});

describe("C1 controls in --json", () => {
  it("are escaped as \\u009b, as JSON.stringify escapes C0 controls, in status, list, logs and watch", async () => {
    // U+009B is an 8-bit CSI: a terminal showing raw JSON would act on it as on ESC [.
    const text = "a\u009b31mb\u0085c\u001bd";
    const project = useProject(onTestFinished, {
      tasks: {
        "c1.ts": [
          'import { defineTask } from "bgtask";',
          "export default defineTask({",
          "  async run(task) {",
          `    task.log(${JSON.stringify(text)});`,
          `    return { message: ${JSON.stringify(text)}, result: { text: ${JSON.stringify(text)} } };`,
          "  },",
          "});",
        ].join("\n"),
      },
    });
    const id = await project.run("c1");
    await project.waitForTask(id, (t) => t.completed);
    const outputs = {
      status: await project.cli(["status", id, "--json"]),
      list: await project.cli(["list", "--json"]),
      logs: await project.cli(["logs", id, "--json"]),
      watch: await project.cli(["watch", id, "--json"]),
    };
    for (const [command, result] of Object.entries(outputs)) {
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).not.toMatch(/[\u0080-\u009f]/);
      expect(result.stdout, command).toContain("a\\u009b31mb\\u0085c\\u001bd");
    }
    // Escaped, not changed: a script reads back exactly what the task wrote.
    expect((await project.status(id)).message).toBe(text);
  });
});
