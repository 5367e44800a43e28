// `--help` shows every flag kebab-case (--dry-run, --older-than) as the README does, while camelCase
// stays accepted; -v/--verbose adds debug messages on stderr, and `hoard -v` alone prints the version.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { fsWorld, type World } from "../helpers.ts";
import { code } from "../e2e/lib.ts";
import pkg from "../../package.json" with { type: "json" };

let w: World;
beforeAll(() => {
  w = fsWorld();
  code(w.hoard("index", "photos"), 0);
});
afterAll(() => w.cleanup());

/** The long flags a --help text shows (option column only). */
const flagsOf = (help: string) => [...help.matchAll(/(?:^|[\s,])--([A-Za-z][\w-]*)/gm)].map((m) => m[1]!);

for (const cmd of [["sync"], ["offload"], ["restore"], ["index"], ["volume", "add"], ["recover"]]) {
  test(`hoard ${cmd.join(" ")} --help shows kebab-case flags only`, () => {
    const r = code(w.hoard(...cmd, "--help"), 0);
    const flags = flagsOf(r.stdout);
    expect(flags.length).toBeGreaterThan(3);
    for (const f of flags) expect(f).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(r.stdout).toContain("-v, --verbose");
  });
}

test("offload --help names --dry-run and --older-than (not --dryRun, --olderThan)", () => {
  const out = code(w.hoard("offload", "--help"), 0).stdout;
  expect(out).toContain("-n, --dry-run");
  expect(out).toContain("--older-than=");
  expect(out).not.toContain("dryRun");
  expect(out).not.toContain("olderThan");
  expect(code(w.hoard("sync", "--help"), 0).stdout).toContain("-n, --dry-run");
});

test("camelCase and kebab-case flags both still parse", () => {
  for (const flag of ["--dry-run", "--dryRun", "-n"]) expect(code(w.hoard("sync", "photos", flag, "--json"), 0).json.results[0].status).toBe("dry-run");
  expect(code(w.hoard("offload", "photos", ".", "--older-than", "0s", "--dry-run", "--json"), 0).json.dry_run).toBe(true);
  expect(code(w.hoard("offload", "photos", ".", "--olderThan", "0s", "--dry-run", "--json"), 0).json.dry_run).toBe(true);
});

test("-v and --verbose show debug messages on stderr; without them there are none", () => {
  const debug = `config ${w.config}, database ${w.db}, node testnode`;
  const plain = code(w.hoard("sync", "photos"), 0);
  expect(plain.stderr).not.toContain(debug);
  const v = code(w.hoard("sync", "photos", "-v"), 0);
  expect(v.stderr).toContain(debug);
  expect(v.stdout).not.toContain(debug); // logs never mix into stdout
  expect(code(w.hoard("--verbose", "sync", "photos"), 0).stderr).toContain(debug);
  // --quiet wins over --verbose
  expect(code(w.hoard("sync", "photos", "-v", "-q"), 0).stderr).not.toContain(debug);
});

test("hoard -v alone prints the version; -v with a command does not", () => {
  expect(code(w.hoard("-v"), 0).stdout).toBe(`hoard ${pkg.version}\n`);
  expect(code(w.hoard("-v", "--json"), 0).json).toEqual({ version: pkg.version });
  const s = code(w.hoard("-v", "status"), 0);
  expect(s.stdout).toContain("volume photos");
  expect(s.stdout).not.toContain(`hoard ${pkg.version}`);
});

test("a bad flag is still refused with a kebab-case suggestion", () => {
  const r = code(w.hoard("offload", "photos", ".", "--dry-rn"), 2);
  expect(r.stderr).toContain("did you mean --dry-run?");
  code(w.hoard("sync", "--verbos"), 2);
});
