// Who may import whom. The CLI is flags → client → view: its commands reach the journal, the host
// and the worker only through src/client/, never by importing them (statically, by type, or
// lazily). And `bgtask`, which every executor module loads, stays light: it never loads the client.
// No module of src/ reaches itself again through its imports, type-only ones included: a circle
// means a type lives in the wrong module.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/project.ts";

const SRC = join(REPO, "src");
const COMMANDS = join(SRC, "cli/commands");

/** Every module specifier in `source`: `import … from`, `export … from`, `import("…")`; with `values`, not the type-only ones. */
function specifiers(source: string, options: { values?: boolean } = {}): string[] {
  const found = [...source.matchAll(/(?:\b(import|export)\s+(type\s+)?[^;"']*?\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)];
  return found.filter((m) => !(options.values && m[2])).map((m) => m[3]!);
}

/** The folder under src/ a relative specifier of `file` lands in ("journal", "cli", …, or "" for src/ itself). */
function areaOf(file: string, specifier: string): string {
  const target = relative(SRC, resolve(dirname(file), specifier));
  return target.includes("/") ? target.split("/")[0]! : "";
}

/** Every .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The import circles among `graph`'s modules, each as the path that closes it (first module repeated last). */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (module: string) => {
    const back = path.indexOf(module);
    if (back !== -1) {
      found.push([...path.slice(back), module]);
      return;
    }
    if (done.has(module)) return;
    path.push(module);
    for (const next of graph.get(module) ?? []) visit(next);
    path.pop();
    done.add(module);
  };
  for (const module of graph.keys()) visit(module);
  return found;
}

describe("import rules", () => {
  it("finds the imports of a module, whatever their form", () => {
    const source = `import a from "./a.ts";\nimport type { B } from "../b.ts";\nexport { c } from "./c.ts";\nconst d = await import("../../d.ts");\nimport "./e.ts";\nexport type { F } from "./f.ts";`;
    expect(specifiers(source)).toEqual(["./a.ts", "../b.ts", "./c.ts", "../../d.ts", "./e.ts", "./f.ts"]);
    expect(specifiers(source, { values: true })).toEqual(["./a.ts", "./c.ts", "../../d.ts", "./e.ts"]);
  });

  it("finds an import circle, whatever its length, and none in a tree", () => {
    const tree = new Map([
      ["a", ["b", "c"]],
      ["b", ["c"]],
      ["c", []],
    ]);
    expect(circles(tree)).toEqual([]);
    expect(circles(new Map([...tree, ["c", ["a"]]]))).toEqual([["a", "b", "c", "a"]]);
    expect(circles(new Map([["a", ["a"]]]))).toEqual([["a", "a"]]);
  });

  it("no module of src/ imports itself again through others, type-only imports included", () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(100);
    const graph = new Map(
      files.map((file) => [
        relative(SRC, file),
        [
          ...new Set(
            specifiers(readFileSync(file, "utf8"))
              .filter((s) => s.startsWith("."))
              .map((s) => relative(SRC, resolve(dirname(file), s))),
          ),
        ],
      ]),
    );
    expect(circles(graph).map((circle) => circle.join(" → "))).toEqual([]);
  });

  it("src/cli/commands imports nothing from src/journal/, src/host/ or src/worker/", () => {
    const files = readdirSync(COMMANDS).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(10);
    const offending = files.flatMap((file) => {
      const path = join(COMMANDS, file);
      return specifiers(readFileSync(path, "utf8"))
        .filter((s) => s.startsWith(".") && ["journal", "host", "worker"].includes(areaOf(path, s)))
        .map((s) => `${file} imports ${s}`);
    });
    expect(offending).toEqual([]);
  });

  it("src/dashboard is a view over src/client/: it imports nothing from src/journal/, src/host/ or src/worker/", () => {
    const dir = join(SRC, "dashboard");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files).toContain("server.ts");
    const offending = files.flatMap((file) => {
      const path = join(dir, file);
      return specifiers(readFileSync(path, "utf8"))
        .filter((s) => s.startsWith(".") && ["journal", "host", "worker"].includes(areaOf(path, s)))
        .map((s) => `${file} imports ${s}`);
    });
    expect(offending).toEqual([]);
  });

  it("the stores are src/journal/'s own: nothing outside it imports from its file/, postgres/ or memory/ folders", () => {
    const offending = sourceFiles(SRC)
      .filter((path) => !path.startsWith(join(SRC, "journal") + "/"))
      .flatMap((path) =>
        specifiers(readFileSync(path, "utf8"))
          .filter((s) => s.startsWith(".") && /^journal\/(file|postgres|memory)\//.test(relative(SRC, resolve(dirname(path), s))))
          .map((s) => `${relative(SRC, path)} imports ${s}`),
      );
    expect(offending).toEqual([]);
    // The rule sees what it must: a store's folder is imported from inside the journal.
    expect(specifiers(readFileSync(join(SRC, "journal/open.ts"), "utf8"))).toContain("./file/store.ts");
  });

  it("one store does not reach into another's folder", () => {
    const stores = ["file", "postgres", "memory"];
    const offending = stores.flatMap((store) =>
      sourceFiles(join(SRC, "journal", store)).flatMap((path) =>
        specifiers(readFileSync(path, "utf8"))
          .filter((s) => s.startsWith("."))
          .map((s) => relative(join(SRC, "journal"), resolve(dirname(path), s)))
          .filter((target) => stores.some((other) => other !== store && target.startsWith(`${other}/`)))
          .map((target) => `${store}: ${relative(SRC, path)} imports journal/${target}`),
      ),
    );
    expect(offending).toEqual([]);
  });

  it("what `bgtask` loads at run time (src/index.ts and all it imports) holds no client, journal or worker module", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const s of specifiers(readFileSync(file, "utf8"), { values: true })) {
        if (!s.startsWith(".")) continue;
        const target = resolve(dirname(file), s);
        if (existsSync(target)) visit(target);
      }
    };
    visit(join(SRC, "index.ts"));
    const loaded = [...seen].map((f) => relative(SRC, f));
    expect(loaded).toContain("index.ts");
    expect(loaded.filter((f) => /^(client|journal|worker|host|cli)\//.test(f))).toEqual([]);
  });
});
