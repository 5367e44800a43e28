// The published plugin types (types/hoard-plugin.d.ts, generated from src/kernel/plugin.ts): up to
// date, and enough on their own to type-check a plugin outside hoard's tree (and to reject a wrong one).

import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, tempDir } from "../helpers.ts";

const TSC = join(ROOT, "node_modules/.bin/tsc");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const tsc = (project: string) => spawnSync(TSC, ["-p", project], { encoding: "utf8", cwd: ROOT });

describe("hoard/plugin types", () => {
  test("types/hoard-plugin.d.ts matches src/kernel/plugin.ts (else: bun scripts/plugin-types.ts)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/plugin-types.ts"), "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const dts = readFileSync(join(ROOT, "types/hoard-plugin.d.ts"), "utf8");
    expect(dts).toContain('declare module "hoard/plugin"');
    expect(dts).toContain("export interface HookMap");
    expect(dts).not.toMatch(/export declare (function|const)/); // types only: a plugin cannot import values
  }, 180_000);

  for (const ex of ["require-method", "dir-destination"])
    test(`the example ${ex} type-checks with its own tsconfig (the d.ts, no path mapping)`, () => {
      const r = tsc(join(ROOT, "examples", ex));
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    }, 180_000);

  test("outside hoard's tree the d.ts alone type-checks a plugin, and catches a wrong hook payload", () => {
    const d = tempDir("hoard-plugin-types-");
    dirs.push(d);
    cpSync(join(ROOT, "examples/require-method/index.ts"), join(d, "index.ts"));
    cpSync(join(ROOT, "types/hoard-plugin.d.ts"), join(d, "hoard-plugin.d.ts"));
    const cfg = JSON.parse(readFileSync(join(ROOT, "examples/require-method/tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""));
    cfg.files = ["index.ts", "hoard-plugin.d.ts"];
    writeFileSync(join(d, "tsconfig.json"), JSON.stringify(cfg));
    const good = tsc(d);
    expect(good.stdout + good.stderr).toBe("");
    expect(good.status).toBe(0);
    const src = readFileSync(join(d, "index.ts"), "utf8");
    writeFileSync(join(d, "index.ts"), src.replace('api.on("gate:check", (p) => {\n    const allowed = required(requireMethod.get(p.table));', 'api.on("gate:check", (p) => {\n    const allowed = required(requireMethod.get(p.options));'));
    expect(readFileSync(join(d, "index.ts"), "utf8")).not.toBe(src);
    const bad = tsc(d);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain("Property 'options' does not exist");
  }, 180_000);

  // with valibot installed (as docs/plugins.md says), the d.ts infers a destination's options from its
  // schema and types each hook's decision: mismatches are compile errors
  const plugin = (body: string) => `import type { Plugin } from "hoard/plugin";
const plugin: Plugin = { name: "t", apiVersion: 1, setup(api) {
  const v = api.v;
${body}
} };
export default plugin;
`;
  const GOOD = `  api.destination({ name: "t", schema: v.strictObject({ path: v.string(), copies: v.optional(v.number(), 1) }), open: (o, ctx) => {
    const p: string = o.path; const n: number = o.copies; void p; void n; void ctx;
    return null as any;
  } });
  api.on("gate:check", (p) => (p.component.verifiedAt === null ? { refuse: "never verified", hint: "verify" } : undefined));
  api.on("evidence:expiry", (p) => ({ expiresAt: p.now, why: "now" }));`;
  const cases: [string, string, string][] = [
    ["options read a key the schema does not have", GOOD.replace("const n: number = o.copies", "const n: number = o.count"), "Property 'count' does not exist"],
    ["options typed against the schema", GOOD.replace("open: (o, ctx)", "open: (o: { path: number }, ctx)"), "error TS2"],
    ["a gate:check listener returns another hook's decision", GOOD.replace('{ refuse: "never verified", hint: "verify" }', '{ reject: "never verified" }'), "error TS2"],
    ["an expiry that is not bigint nanoseconds", GOOD.replace("expiresAt: p.now", "expiresAt: 5"), "error TS2"],
  ];
  test("the d.ts with valibot: inferred destination options and typed decisions; each mismatch fails to compile", () => {
    const d = tempDir("hoard-plugin-types-");
    dirs.push(d);
    cpSync(join(ROOT, "types/hoard-plugin.d.ts"), join(d, "hoard-plugin.d.ts"));
    const cfg = JSON.parse(readFileSync(join(ROOT, "examples/require-method/tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""));
    cfg.files = ["index.ts", "hoard-plugin.d.ts"];
    cfg.compilerOptions.paths = { valibot: [join(ROOT, "node_modules/valibot")] }; // as if installed as a dev dependency
    writeFileSync(join(d, "tsconfig.json"), JSON.stringify(cfg));
    writeFileSync(join(d, "index.ts"), plugin(GOOD));
    const good = tsc(d);
    expect(good.stdout + good.stderr).toBe("");
    for (const [what, body, msg] of cases) {
      expect({ what, changed: body !== GOOD }).toEqual({ what, changed: true });
      writeFileSync(join(d, "index.ts"), plugin(body));
      const bad = tsc(d);
      expect({ what, failed: bad.status !== 0, says: bad.stdout.includes(msg) }).toEqual({ what, failed: true, says: true });
    }
  }, 120_000);
});
