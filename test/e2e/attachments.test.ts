// Attachments: stored under <home>/attachments/<id>/ on the file journal and in the database on
// PostgreSQL, listed by status with name, size and path, read back by `attachment get`; names
// that would leave the task's folder are refused.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { describeOnJournals, useProject, type Project } from "../helpers/project.ts";

/** The bytes `bgtask attachment get` writes to a file. */
async function fetched(project: Project, id: string, name: string): Promise<Buffer> {
  const output = join(project.dir, `fetched-${name.replace(/\W/g, "_")}`);
  const result = await project.cli(["attachment", "get", id, name, "--output", output]);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  return readFileSync(output);
}

describeOnJournals("attachments", (journal) => {
  it("are listed with their size, and each file holds what was attached", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "report.ts": `
          import { defineTask } from "bgtask";
          export default defineTask<{ source: string }>({
            async run(task) {
              await task.attach("report.csv", "id,name\\n1,Ada\\n");
              await task.attach("blob.bin", new Uint8Array([0, 1, 2, 255]));
              await task.attach("copy of source.txt", { path: task.context.source });
              await task.attach("report.csv", "id,name\\n1,Ada\\n2,Grace\\n");   // replaced, not duplicated
            },
          });`,
      },
    });
    const source = join(project.dir, "source.txt");
    writeFileSync(source, "héllo from a file\n");
    const id = await project.run("report", [`source=${JSON.stringify(source)}`]);
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status).toBe("succeeded");

    const folder = join(project.home, "attachments", id);
    const expected = {
      "report.csv": Buffer.from("id,name\n1,Ada\n2,Grace\n"),
      "blob.bin": Buffer.from([0, 1, 2, 255]),
      "copy of source.txt": readFileSync(source),
    };
    expect(done.attachments.map((a) => a.name)).toEqual(["report.csv", "blob.bin", "copy of source.txt"]);
    for (const attachment of done.attachments) {
      const content = expected[attachment.name as keyof typeof expected];
      expect(attachment.size).toBe(content.length);
      expect((await fetched(project, id, attachment.name)).equals(content)).toBe(true);
      if (journal === "file") {
        expect(attachment.path).toBe(join(folder, attachment.name));
        expect(readFileSync(attachment.path).equals(content)).toBe(true);
        expect(statSync(attachment.path).mode & 0o777).toBe(0o600);
      } else {
        // No file: the path names the journal and the attachment.
        expect(attachment.path).toMatch(new RegExp(`^postgres(ql)?://.*\\?schema=t_\\w+#attachment/${id}/${encodeURIComponent(attachment.name)}$`));
      }
    }
    // No temp file left beside them; nothing at all in the home on PostgreSQL.
    if (journal === "file") expect(readdirSync(folder).sort()).toEqual(["blob.bin", "copy of source.txt", "report.csv"]);
    else expect(existsSync(join(project.home, "attachments"))).toBe(false);

    const status = await project.cli(["status", id]);
    expect(status.stdout).toMatch(/attachments\n\s+NAME\s+SIZE\s+PATH/);
    if (journal === "file")
      expect(status.stdout).toMatch(new RegExp(`report\\.csv\\s+22 B\\s+${join(folder, "report.csv").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    else expect(status.stdout).toMatch(/report\.csv\s+22 B\s+postgres/);
    expect(status.stdout).toMatch(/blob\.bin\s+4 B\s+/);
  });

  it("refuses names that would leave the task's folder, and writes nothing elsewhere", async () => {
    const names = ["../escaped.txt", "../../escaped.txt", "/tmp/escaped.txt", "a/../../escaped.txt", "..", ".", "a\u0000b", "a\\b", "x".repeat(300), ""];
    const project = useProject(onTestFinished, {
      tasks: {
        "sneaky.ts": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              const refused: string[] = [];
              for (const name of ${JSON.stringify(names)}) {
                try {
                  await task.attach(name, "should not be written");
                } catch (error) {
                  refused.push((error as Error).message);
                }
              }
              await task.attach("fine.txt", "ok");
              return { result: { refused } };
            },
          });`,
      },
    });
    const id = await project.run("sneaky");
    const done = await project.waitForTask(id, (t) => t.completed);
    const refused = (done.result as { refused: string[] }).refused;
    expect(refused).toHaveLength(names.length);
    for (const message of refused) expect(message).toMatch(/^attachment name .* is refused: /);
    expect(done.attachments.map((a) => a.name)).toEqual(["fine.txt"]);
    expect((await fetched(project, id, "fine.txt")).toString()).toBe("ok");
    if (journal === "file") {
      expect(readdirSync(join(project.home, "attachments", id))).toEqual(["fine.txt"]);
      expect(readdirSync(join(project.home, "attachments"))).toEqual([id]);
    }
    expect(existsSync(join(project.home, "escaped.txt"))).toBe(false);
    expect(existsSync(join(project.dir, "escaped.txt"))).toBe(false);
    expect(existsSync("/tmp/escaped.txt") && readFileSync("/tmp/escaped.txt", "utf8") === "should not be written").toBe(false);
    const logs = await project.cli(["logs", id]);
    expect(logs.stdout).toContain('task.attach() failed: attachment name "../escaped.txt" is refused: it contains a path separator');
  });
});
