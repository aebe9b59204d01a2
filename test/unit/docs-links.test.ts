// The README is a front door: it links into docs/ for everything else, so a link that lands
// nowhere (a page renamed, a heading reworded) strands the reader. Every link from README.md,
// CONTRIBUTING.md and docs/*.md to a file of this repository must name a file that exists and,
// with an anchor, a heading of that page as GitHub slugs it. The README's links are absolute
// (github.com/bgtask/bgtask/blob/main/…), so they work on the npm page too, where docs/ is not
// shipped. And every command the CLI registers has its line in the README's command table.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { DOCS_URL } from "../../src/cli/help-examples.ts";
import { buildProgram } from "../../src/cli/program.ts";
import { REPO } from "../helpers/project.ts";

const BLOB = "https://github.com/bgtask/bgtask/blob/main/";
const RAW = "https://raw.githubusercontent.com/bgtask/bgtask/main/";
const PAGES = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The lines of a Markdown file outside its fenced code blocks. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").filter((line) => {
    if (line.startsWith("```")) fenced = !fenced;
    return !fenced && !line.startsWith("```");
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; a repeat gets -1, -2, …. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .trim()
      .toLowerCase();
    const slug = text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

interface Link {
  page: string;
  target: string;
}

/** Every link and image of a page, outside code. */
function links(page: string): Link[] {
  const found: Link[] = [];
  for (const line of prose(readFileSync(join(REPO, page), "utf8"))) {
    const text = line.replace(/`[^`]*`/g, "");
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) found.push({ page, target: match[1]! });
  }
  return found;
}

/** The repository file and anchor a link names, or null for a link that leaves the repository. */
function resolveLink({ page, target }: Link): { file: string; anchor: string | null } | null {
  const [path = "", anchor = null] = target.split(/#(.*)/s);
  if (path.startsWith(BLOB)) return { file: path.slice(BLOB.length), anchor };
  if (path.startsWith(RAW)) return { file: path.slice(RAW.length), anchor };
  if (/^[a-z]+:/.test(path)) return null;
  return { file: path === "" ? page : relative(REPO, resolve(REPO, dirname(page), path)), anchor };
}

const anchorsOf = new Map<string, Set<string>>();

/** Why a link does not resolve, or null when it does. */
function problem(link: Link): string | null {
  const resolved = resolveLink(link);
  if (!resolved) return null;
  if (!existsSync(join(REPO, resolved.file))) return `${link.page}: ${link.target}: no file ${resolved.file}`;
  if (resolved.anchor === null || !resolved.file.endsWith(".md")) return null;
  if (!anchorsOf.has(resolved.file)) anchorsOf.set(resolved.file, anchors(readFileSync(join(REPO, resolved.file), "utf8")));
  if (anchorsOf.get(resolved.file)!.has(resolved.anchor)) return null;
  return `${link.page}: ${link.target}: no heading #${resolved.anchor} in ${resolved.file}`;
}

/** Every command a user can type, subcommands as "journal copy"; hidden ones (complete) left out. */
function commandNames(command: Command, prefix = ""): string[] {
  return command
    .createHelp()
    .visibleCommands(command)
    .filter((sub) => sub.name() !== "help")
    .flatMap((sub) => {
      const name = `${prefix}${sub.name()}`;
      return sub.commands.length > 0 ? commandNames(sub, `${name} `) : [name];
    });
}

describe("the documentation's links", () => {
  it("finds the pages and their links", () => {
    expect(PAGES).toEqual(expect.arrayContaining(["docs/commands.md", "docs/executors.md", "docs/postgresql.md"]));
    expect(links("README.md").length).toBeGreaterThan(30);
  });

  it("slugs headings as GitHub does", () => {
    const page =
      "# Title\n## `bgtask run`\n## Reading `--json`\n### Cron: `bgtask tick`\n## Crash recovery, and running more than once\n## Cron: `bgtask tick`\n```\n## not a heading\n```";
    expect([...anchors(page)]).toEqual([
      "title",
      "bgtask-run",
      "reading---json",
      "cron-bgtask-tick",
      "crash-recovery-and-running-more-than-once",
      "cron-bgtask-tick-1",
    ]);
  });

  it("land on a file that exists and a heading it has", () => {
    const problems = PAGES.flatMap(links)
      .map(problem)
      .filter((p) => p !== null);
    expect(problems).toEqual([]);
  });

  it("from the README are absolute, so they work on the npm page too", () => {
    const relativeLinks = links("README.md").filter((link) => !/^(#|https:\/\/)/.test(link.target));
    expect(relativeLinks).toEqual([]);
  });
});

describe("the README's command table", () => {
  const rows = new Map(
    [...readFileSync(join(REPO, "README.md"), "utf8").matchAll(/^\| \[`bgtask ([^`]+)`\]\(([^)]+)\) \| .+ \|$/gm)].map((m) => [m[1]!, m[2]!]),
  );

  it("has a line for every command the CLI registers, and for no other", () => {
    const names = commandNames(buildProgram("0.0.0"));
    expect(names).toEqual(expect.arrayContaining(["run", "list", "journal copy", "attachment get"]));
    expect([...rows.keys()].sort()).toEqual([...names].sort());
  });

  it("is where the top-level --help sends a reader for more", () => {
    let help = "";
    const program = buildProgram("0.0.0").configureOutput({ writeOut: (text) => (help += text) });
    program.outputHelp();
    expect(help).toContain(DOCS_URL);
    expect(problem({ page: "README.md", target: DOCS_URL })).toBeNull();
  });

  it("links each command to its own section of docs/commands.md", () => {
    for (const [name, target] of rows) {
      expect(target, name).toBe(`${BLOB}docs/commands.md#bgtask-${name.replace(/ /g, "-")}`);
      expect(problem({ page: "README.md", target }), name).toBeNull();
    }
  });
});
