// The README's CLI reference is generated from the command tree: this test fails when a command
// or flag changed without `bun scripts/cli-reference.ts --write`.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cliReference, readmeWith } from "../scripts/cli-reference.ts";

test("README CLI reference matches --help of every command", async () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  expect(readmeWith(readme, await cliReference())).toBe(readme);
});

test("README quick start names the demo and the test command", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  expect(readme).toContain("npm install && npm run demo");
  expect(readme).toContain("npm test");
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "..", "package.json"), "utf8"));
  expect(pkg.scripts.demo).toContain("demo");
  expect(pkg.scripts.test).toBeDefined();
});
