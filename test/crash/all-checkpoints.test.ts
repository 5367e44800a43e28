// The crash-harness guard: every name in CHECKPOINTS (src/kernel/crash.ts) is armed by some crash test
// under test/crash/, and every checkpoint("…") call in the sources names a listed checkpoint.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { CHECKPOINTS } from "../../src/kernel/crash.ts";
import { ROOT } from "../helpers.ts";

const SELF = "all-checkpoints.test.ts";
const CRASH_DIR = join(ROOT, "test/crash");

/** Every .ts file under `dir` (relative to the repository root) with its text. */
function sources(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory() && d.name !== "node_modules") out.push(...sources(p));
    else if (d.isFile() && d.name.endsWith(".ts")) out.push({ file: relative(ROOT, p), text: readFileSync(p, "utf8") });
  }
  return out;
}

/** The crash tests that arm a checkpoint (they set HOARD_TEST_CRASH_AT), this guard excluded. */
const crashTests = () => sources(CRASH_DIR).filter((f) => f.file.endsWith(".test.ts") && !f.file.endsWith(SELF) && f.text.includes("HOARD_TEST_CRASH_AT"));

/** Names no crash test mentions as a string ("name" or "name:N"). */
function unexercised(names: readonly string[], tests: { text: string }[]): string[] {
  return names.filter((n) => !tests.some((t) => [`"${n}"`, `"${n}:`, `'${n}'`, `'${n}:`, `\`${n}\``, `\`${n}:`].some((q) => t.text.includes(q))));
}

/** Every checkpoint(…) call in the given sources: its literal name, or null when the argument is not a string literal. */
function calls(files: { file: string; text: string }[]): { file: string; line: number; name: string | null }[] {
  const out: { file: string; line: number; name: string | null }[] = [];
  for (const { file, text } of files) {
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      if (/^\s*(\/\/|\/\*|\*)/.test(raw)) return; // a comment line, e.g. the doc of checkpoint() itself
      const l = raw.replace(/;\s*\/\/.*$/, ";"); // a trailing comment
      for (const m of l.matchAll(/(?<![\w.$])checkpoint\(\s*([^)]*)\)/g)) {
        if (/^\s*(export\s+)?function\s/.test(l)) continue; // the definition itself
        const lit = /^(["'`])([^"'`$]*)\1\s*$/.exec(m[1]!);
        out.push({ file, line: i + 1, name: lit ? lit[2]! : null });
      }
    });
  }
  return out;
}

const code = () => [...sources(join(ROOT, "src")), ...sources(join(ROOT, "plugins"))];

test("every checkpoint in CHECKPOINTS is armed by a crash test under test/crash/", () => {
  const tests = crashTests();
  expect(tests.length).toBeGreaterThan(0);
  expect(unexercised(CHECKPOINTS, tests)).toEqual([]);
});

test("the guard can fail: a new checkpoint no crash test names is reported", () => {
  const tests = crashTests();
  expect(unexercised([...CHECKPOINTS, "offload.brand-new"], tests)).toEqual(["offload.brand-new"]);
  // a name only as a prefix of another does not count ("sync.push" does not cover "sync.pu")
  expect(unexercised(["sync.pu"], tests)).toEqual(["sync.pu"]);
});

test("every checkpoint(…) call in src/ and plugins/ names a listed checkpoint, and every listed one is called", () => {
  const found = calls(code());
  expect(found.length).toBeGreaterThanOrEqual(CHECKPOINTS.length);
  const listed = new Set<string>(CHECKPOINTS);
  expect(found.filter((c) => c.name === null || !listed.has(c.name))).toEqual([]);
  const called = new Set(found.map((c) => c.name));
  expect(CHECKPOINTS.filter((n) => !called.has(n))).toEqual([]); // a listed name with no call site can never fire
  expect(new Set(CHECKPOINTS).size).toBe(CHECKPOINTS.length);
});

test("the call scan can fail: an unlisted or computed name is reported", () => {
  const fake = [{ file: "x.ts", text: 'checkpoint("offload.unlink");\n  checkpoint("sync.nope"); // after checkpoint(x)\nif (a) checkpoint(name);\nexport function checkpoint(name: Checkpoint): void {\n// `checkpoint(name)` in a comment\n * checkpoint(x) in a doc' }];
  expect(calls(fake)).toEqual([
    { file: "x.ts", line: 1, name: "offload.unlink" },
    { file: "x.ts", line: 2, name: "sync.nope" },
    { file: "x.ts", line: 3, name: null },
  ]);
});

test("only src/kernel/crash.ts reads HOARD_TEST_CRASH_AT (checkpoints are armed by the test-only variable alone)", () => {
  const readers = code()
    .filter((f) => f.text.includes("HOARD_TEST_CRASH_AT"))
    .map((f) => f.file);
  expect(readers).toEqual([join("src", "kernel", "crash.ts")]);
});
