// The kernel is the bottom layer: no module in src/kernel imports from src/config, src/ops or
// src/cli (checked on the import statements of every kernel file).

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";

test("src/kernel imports nothing from src/config, src/ops or src/cli", () => {
  const dir = join(ROOT, "src/kernel");
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts")))
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+["']([^"']+)["']/g))
      if (/^\.\.\/(config|ops|cli)\//.test(m[1]!)) bad.push(`${f} → ${m[1]}`);
  expect(bad).toEqual([]);
});
