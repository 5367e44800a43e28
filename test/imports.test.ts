// The import graph of src/ and plugins/ (scripts/imports.ts): no cycle, so every module can be loaded
// on its own (type-only imports are erased and do not count); no import from src/kernel into
// src/config, src/ops or src/cli (type imports count); no file over 300 lines but the listed ones.

import { describe, expect, test } from "bun:test";
import { backArrows, cycles, importGraph, importsOf, MAX_LINES, oversized, sourceFiles } from "../scripts/imports.ts";

/** Files still over the limit, being split (issue 16); shrink this list as they land, never grow it. */
const OVERSIZED_LEFT = new Set<string>([]);

describe("import graph", () => {
  test("the cycle finder sees a cycle, including one through a dynamic import", () => {
    const g = new Map<string, string[]>();
    g.set("/a.ts", importsOf("/a.ts", 'import { b } from "./b.ts";\nimport type { C } from "./c.ts";'));
    g.set("/b.ts", importsOf("/b.ts", 'export async function b() { return import("./a.ts"); }'));
    g.set("/c.ts", importsOf("/c.ts", 'import { a } from "./a.ts";'));
    expect(cycles(g)).toEqual([["/a.ts", "/b.ts"]]);
  });

  test("src/ and plugins/ have no import cycle", () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(cycles(graph).map((c) => c.join(" → "))).toEqual([]);
  });

  test("the back-arrow finder sees a kernel import of config, ops or cli, type-only ones too", () => {
    const g = new Map([
      ["src/kernel/a.ts", ["src/config/x.ts", "src/kernel/b.ts"]],
      ["src/kernel/b.ts", ["src/ops/y.ts", "src/cli/z.ts"]],
      ["src/ops/c.ts", ["src/kernel/a.ts", "src/config/x.ts"]],
    ]);
    expect(backArrows(g)).toEqual(["src/kernel/a.ts -> src/config/x.ts", "src/kernel/b.ts -> src/cli/z.ts", "src/kernel/b.ts -> src/ops/y.ts"]);
    expect(importsOf("/k/a.ts", 'import type { T } from "../config/t.ts";', { types: true })).toEqual(["/config/t.ts"]);
  });

  test("src/kernel imports nothing from src/config, src/ops or src/cli", () => {
    expect(backArrows(importGraph(sourceFiles(), { types: true }))).toEqual([]);
  });

  test(`no file in src/ and plugins/ is over ${MAX_LINES} lines (but the ones still being split)`, () => {
    const big = oversized();
    expect(big.filter((b) => !OVERSIZED_LEFT.has(b.file))).toEqual([]);
    // reporting: what is left to split
    if (big.length) console.log(`over ${MAX_LINES} lines, still to split: ${big.map((b) => `${b.file} (${b.lines})`).join(", ")}`);
  });
});
