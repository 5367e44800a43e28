// hoard under Deno (installed from npm as a devDependency): the demo, and an index → sync → offload
// → restore round trip with node:sqlite, both with the native BLAKE3 addon and the pure-JS fallback.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fsWorld, MAIN, ROOT, tempDir, type World } from "../helpers.ts";
import { referenceBlake3 } from "../../src/kernel/runtime.ts";
import pkg from "../../package.json" with { type: "json" };

const DENO = join(ROOT, "node_modules/.bin/deno");
const dir = tempDir("hoard-deno-");
const WRAPPER = join(dir, "hoard-deno");
const worlds: World[] = [];
let savedBin: string | undefined;

beforeAll(() => {
  if (!existsSync(DENO)) throw new Error(`${DENO} is missing: run npm ci (deno is a devDependency)`);
  // test/helpers.ts runs HOARD_BIN as one executable: a wrapper that starts hoard's source under Deno
  writeFileSync(WRAPPER, `#!/bin/sh\nexec ${JSON.stringify(DENO)} run -A ${JSON.stringify(MAIN)} "$@"\n`);
  chmodSync(WRAPPER, 0o755);
  savedBin = process.env.HOARD_BIN;
  process.env.HOARD_BIN = WRAPPER;
});
afterAll(() => {
  if (savedBin === undefined) delete process.env.HOARD_BIN;
  else process.env.HOARD_BIN = savedBin;
  for (const w of worlds) w.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const deno = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(DENO, args, { cwd: dir, encoding: "utf8", env: { ...(process.env as Record<string, string>), NO_COLOR: "1", ...env }, timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

describe("under Deno", () => {
  test("is really Deno, with node:sqlite, and reads package.json as JSON", () => {
    const r = deno(["eval", `import { runtimeName, openSqlite } from ${JSON.stringify(join(ROOT, "src/kernel/runtime.ts"))}; const db = openSqlite(":memory:"); console.log(JSON.stringify({ rt: runtimeName, big: db.prepare("SELECT 9007199254740993 AS n").get().n.toString() }));`]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ rt: "deno", big: "9007199254740993" });
    // BLAKE3: the napi addon loads under Deno here; HOARD_BLAKE3=noble forces the pure-JS fallback
    const be = (env: Record<string, string>) => deno(["eval", `import { blake3Backend } from ${JSON.stringify(join(ROOT, "src/kernel/runtime.ts"))}; console.log(blake3Backend().name);`], env).stdout.trim();
    expect(["native", "noble"]).toContain(be({}));
    expect(be({ HOARD_BLAKE3: "noble" })).toBe("noble");
    const v = deno(["run", "-A", MAIN, "--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`hoard ${pkg.version}\n`);
  }, 180_000);

  test("deno run -A src/cli/main.ts demo", () => {
    const r = deno(["run", "-A", MAIN, "demo", "--dir", join(dir, "demo"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    for (const s of j.steps) expect(s.exit_code).toBe(s.expected);
    expect(j.steps.map((s: any) => s.command.split(" ")[1])).toEqual(expect.arrayContaining(["index", "sync", "offload", "restore"]));
  }, 180_000);

  for (const backend of ["native", "noble"] as const)
    test(`index → sync → offload → restore round trip (BLAKE3: ${backend === "native" ? "default backend" : "pure-JS fallback"})`, () => {
      const big = Buffer.alloc(1024 * 1024 + 3);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 1) & 0xff;
      const w = fsWorld({ env: backend === "noble" ? { HOARD_BLAKE3: "noble" } : {}, files: { "a.txt": "alpha\n", "d/big.bin": big as unknown as string } });
      worlds.push(w);
      const idx = w.hoard("index", "photos", "--json");
      expect(idx.stderr).toBe("");
      expect(idx.code).toBe(0);
      expect(idx.json.counts.new).toBe(2);
      // Deno wrote the DB through node:sqlite; the digests equal the reference BLAKE3
      const rows = spawnSync(process.execPath, ["-e", `const { Database } = require("bun:sqlite"); const db = new Database(${JSON.stringify(w.db)}, { readonly: true }); console.log(JSON.stringify(db.query("SELECT f.path, c.blake3 FROM files f JOIN content c ON c.id = f.content_id ORDER BY f.path").all()));`], { encoding: "utf8" });
      expect(JSON.parse(rows.stdout)).toEqual([
        { path: "a.txt", blake3: referenceBlake3().hashHex!(Buffer.from("alpha\n")) },
        { path: "d/big.bin", blake3: referenceBlake3().hashHex!(big) },
      ]);
      const sync = w.hoard("sync", "photos", "--json");
      expect(sync.code).toBe(0);
      expect(sync.json.results[0].counts.verified).toBe(2);
      const off = w.hoard("offload", "photos", ".", "--json");
      expect(off.code).toBe(0);
      expect(off.json.counts.offloaded).toBe(2);
      expect(existsSync(w.path("vol/d/big.bin"))).toBe(false);
      const res = w.hoard("restore", "photos", "--json");
      expect(res.code).toBe(0);
      expect(res.json.counts.restored).toBe(2);
      expect(readFileSync(w.path("vol/d/big.bin")).equals(big)).toBe(true);
      expect(w.hoard("index", "photos", "--json").json.counts.unchanged).toBe(2);
      // refusals keep their exit codes under Deno too
      expect(w.hoard("index", "photos", "--shalow").code).toBe(2);
    }, 180_000);

  test("an rclone destination: first sync hashes at the destination, a no-change re-push accepts the receipts (listings read from a file, warm-up before the checks)", () => {
    const w = fsWorld({ destInit: false, files: { "a.txt": "alpha\n", "d/b.txt": "bravo\n" } });
    worlds.push(w);
    const remote = w.path("rc");
    writeFileSync(w.config, readFileSync(w.config, "utf8").replace(/\[destinations\.nas\]\n(?:.+\n)*/, `[destinations.nas]\ntype = "rclone"\nremote = ${JSON.stringify(remote)}\nreverify_budget = "0"\n`));
    expect(w.hoard("dest", "init", "nas").code).toBe(0);
    expect(w.hoard("index", "photos").code).toBe(0);
    const first = w.hoard("sync", "photos", "--json");
    expect(first.code).toBe(0);
    expect(first.json.results[0].counts).toMatchObject({ verified: 2, transferred: 2 });
    expect(readFileSync(join(remote, "photos", "d", "b.txt"), "utf8")).toBe("bravo\n");
    const again = w.hoard("sync", "photos", "--json");
    expect(again.code).toBe(0);
    expect(again.json.results[0].counts).toMatchObject({ verified: 2, unchanged: 2, transferred: 0 });
    expect(again.json.results[0].evidence[0].verified_at).toBe(first.json.results[0].evidence[0].verified_at);
  }, 120_000);

  test("loads the example plugin from disk", () => {
    const w = fsWorld();
    worlds.push(w);
    const plugin = join(ROOT, "examples/require-method/index.ts");
    writeFileSync(w.config, readFileSync(w.config, "utf8").replace(/^node = .*\n/m, (m) => `${m}plugins = [${JSON.stringify(plugin)}]\n`).replace(/(\[destinations\.nas\]\n(?:.+\n)*)/, '$1require_method = ["md5"]\n'));
    expect(w.hoard("index", "photos").code).toBe(0);
    const r = w.hoard("sync", "photos", "--json");
    expect(r.code).toBe(3);
    expect(r.json.error.message).toContain("require_method requires md5");
  }, 120_000);
});
