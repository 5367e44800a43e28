// The import graph of src/ and plugins/ has no cycle: every module can be loaded on its own, and no
// module needs another that needs it back (type-only imports are erased and do not count).

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Relative modules a file loads at run time: static imports and re-exports (not `import type`), and dynamic import(). */
function runtimeImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?"(\.{1,2}\/[^"]+)"/gm)) if (!m[1]) out.push(resolve(dirname(file), m[2]!));
  for (const m of text.matchAll(/\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

/** Every cycle found by a depth-first walk, as the list of files from the module revisited back to it. */
function cycles(graph: Map<string, string[]>): string[][] {
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

describe("import graph", () => {
  test("the cycle finder sees a cycle, including one through a dynamic import", () => {
    const g = new Map<string, string[]>();
    g.set("/a.ts", runtimeImports("/a.ts", 'import { b } from "./b.ts";\nimport type { C } from "./c.ts";'));
    g.set("/b.ts", runtimeImports("/b.ts", 'export async function b() { return import("./a.ts"); }'));
    g.set("/c.ts", runtimeImports("/c.ts", 'import { a } from "./a.ts";'));
    expect(cycles(g)).toEqual([["/a.ts", "/b.ts"]]);
  });

  test("src/ and plugins/ have no import cycle", () => {
    const graph = new Map<string, string[]>();
    for (const f of [...tsFiles(join(ROOT, "src")), ...tsFiles(join(ROOT, "plugins"))]) graph.set(f, runtimeImports(f, readFileSync(f, "utf8")));
    expect(graph.size).toBeGreaterThan(50);
    expect(cycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(" → "))).toEqual([]);
  });
});
