// The import graph of src/ and plugins/: its cycles (run-time imports), imports from src/kernel into
// config/ops/cli (type imports too), and files over 300 lines. `bun scripts/imports.ts` prints them.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const MAX_LINES = 300;

/** Every .ts file under the given folders (relative to the repository root), sorted. */
export function sourceFiles(dirs: readonly string[] = ["src", "plugins"]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

/**
 * Relative modules a file imports: static imports and re-exports, and dynamic import(). Type-only
 * ones (`import type`, `export type`) are erased at run time: they count only with `types`.
 */
export function importsOf(file: string, text: string, o: { types?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?"(\.{1,2}\/[^"]+)"/gm)) if (o.types || !m[1]) out.push(resolve(dirname(file), m[2]!));
  for (const m of text.matchAll(/\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

/** file -> the repository files it imports, both relative to the repository root. */
export function importGraph(files: readonly string[] = sourceFiles(), o: { types?: boolean } = {}): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(f, [...new Set(importsOf(join(ROOT, f), readFileSync(join(ROOT, f), "utf8"), o).map((d) => relative(ROOT, d)))].sort());
  return graph;
}

/** Every cycle found by a depth-first walk, as the list of files from the module revisited back to it. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === "open") found.push(stack.slice(stack.indexOf(d)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

/** Imports from src/kernel into src/config, src/ops or src/cli, as "from -> to". */
export function backArrows(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [f, deps] of graph)
    if (f.startsWith("src/kernel/")) for (const d of deps) if (/^src\/(config|ops|cli)\//.test(d)) out.push(`${f} -> ${d}`);
  return out.sort();
}

/** Files over MAX_LINES lines, with their line counts. */
export function oversized(files: readonly string[] = sourceFiles()): { file: string; lines: number }[] {
  return files
    .map((file) => ({ file, lines: readFileSync(join(ROOT, file), "utf8").split("\n").length - 1 }))
    .filter((x) => x.lines > MAX_LINES);
}

if (import.meta.main) {
  const g = importGraph();
  const c = cycles(g);
  const b = backArrows(importGraph(sourceFiles(), { types: true }));
  const o = oversized();
  process.stdout.write(`${g.size} files, ${[...g.values()].reduce((n, d) => n + d.length, 0)} imports\n`);
  process.stdout.write(`cycles: ${c.length ? "\n" + c.map((x) => "  " + x.join(" → ")).join("\n") : "none"}\n`);
  process.stdout.write(`kernel back-arrows: ${b.length ? "\n" + b.map((x) => "  " + x).join("\n") : "none"}\n`);
  process.stdout.write(`over ${MAX_LINES} lines: ${o.length ? "\n" + o.map((x) => `  ${x.file} (${x.lines})`).join("\n") : "none"}\n`);
}
