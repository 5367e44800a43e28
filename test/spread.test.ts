// No array that grows with a volume is spread into a call's arguments: past about half a million
// elements the engine throws "Maximum call stack size exceeded" (a no-change fs sync of 1M files did).

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { sourceFiles } from "../scripts/imports.ts";

/** Calls that take their spread as arguments, one argument per element. */
const SPREAD_CALL = /\b(push|unshift|max|min|fromCharCode)\(\s*\.\.\./;

/** Spreads whose size does not grow with a volume: the file, the spread text, and why it is bounded. */
const BOUNDED: [file: string, text: string, why: string][] = [
  ["src/config/schema.ts", "flat.push(...flattenIssues(", "a config file's issues"],
  ["src/config/load.ts", "issues.push(...crossChecks(", "a config file's issues"],
  ["src/cli/dispatch.ts", "rest.push(...argv.slice(i))", "the command line's arguments"],
  ["src/cli/cmd-sync.ts", "out.push(...fileList(", "fileList shows at most 20 files and one more line"],
  ["plugins/rclone/listing.ts", "args.push(...RESERVED_FILTERS)", "a constant list"],
];

/** The spread calls in `text` not listed as bounded for `file`. */
export function unboundedSpreads(file: string, text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (!SPREAD_CALL.test(line) || /^\s*(\/\/|\*)/.test(line)) return;
    if (BOUNDED.some(([f, t]) => f === file && line.includes(t))) return;
    found.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return found;
}

describe("spread arguments", () => {
  test("the scan sees a spread of a list into push, Math.max and fromCharCode", () => {
    const text = "out.push(...batch);\nconst m = Math.max(...sizes);\n// out.push(...comment)\nString.fromCharCode(...bytes);";
    expect(unboundedSpreads("plugins/fs/index.ts", text)).toHaveLength(3);
    expect(unboundedSpreads("src/cli/dispatch.ts", "  rest.push(...argv.slice(i));")).toEqual([]);
  });

  test("the engine does refuse a spread of a million elements (the reason for the rule)", () => {
    const big = new Array(2_000_000).fill(0);
    expect(() => [].push(...(big as never[]))).toThrow();
  });

  test("src/ and plugins/ spread only bounded lists into calls", () => {
    const root = `${import.meta.dir}/..`;
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => unboundedSpreads(f, readFileSync(`${root}/${f}`, "utf8")));
    expect(found).toEqual([]);
  });
});
