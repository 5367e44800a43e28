// The single-file binary: builds dist-style `hoard` once with the package's own build command, then
// runs the end-to-end scenarios against it (HOARD_BIN), from directories outside the repository.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fsWorld, ROOT, tempDir, world, type World } from "../helpers.ts";
import { Database } from "bun:sqlite";
import { referenceBlake3 } from "../../src/kernel/runtime.ts";
import pkg from "../../package.json" with { type: "json" };

const dir = tempDir("hoard-binary-");
const BIN = join(dir, "bin", "hoard");
const worlds: World[] = [];
let savedBin: string | undefined;

/** The package's build script, with its --outfile pointed at a temp file (dist/ is left alone). */
function buildArgs(): string[] {
  const script: string = pkg.scripts.build;
  const words = script.split(/\s+/).filter(Boolean);
  expect(words[0]).toBe("bun");
  expect(words).toContain("--compile");
  expect(words).toContain("--no-compile-autoload-dotenv");
  expect(words).toContain("--no-compile-autoload-bunfig");
  const i = words.indexOf("--outfile");
  expect(i).toBeGreaterThan(0);
  words[i + 1] = BIN;
  return words.slice(1);
}

beforeAll(() => {
  const r = spawnSync(process.execPath, buildArgs(), { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bun build --compile failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  savedBin = process.env.HOARD_BIN;
  process.env.HOARD_BIN = BIN; // test/helpers.ts runs this binary instead of bun on the source
}, 120_000);

afterAll(() => {
  if (savedBin === undefined) delete process.env.HOARD_BIN;
  else process.env.HOARD_BIN = savedBin;
  for (const w of worlds) w.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const track = <T extends World>(w: T) => (worlds.push(w), w);
/** Run the binary directly: cwd outside the repo, NO_COLOR, no HOARD_* from the test environment. */
function bin(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}) {
  const env = { ...(process.env as Record<string, string>), NO_COLOR: "1", HOARD_CONFIG: "", HOARD_DB: "", ...o.env };
  const r = spawnSync(BIN, args, { cwd: o.cwd ?? dir, env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("compiled binary", () => {
  test("is one executable file that knows its version", () => {
    const st = statSync(BIN);
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o111).not.toBe(0);
    const r = bin(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hoard ${pkg.version}\n`);
    expect(JSON.parse(bin(["--version", "--json"]).stdout)).toEqual({ version: pkg.version });
  });

  test("ignores .env and bunfig.toml in the directory it runs in", () => {
    // Both files break a binary built without --no-compile-autoload-dotenv/-bunfig (exit 1 or 2).
    const cwd = join(dir, "hostile-cwd");
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, "broken.toml"), "node = [\n");
    writeFileSync(join(cwd, ".env"), `HOARD_CONFIG=${join(cwd, "broken.toml")}\n`);
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./does-not-exist.ts"]\n');
    const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: "1", XDG_CONFIG_HOME: join(cwd, "xdg-config"), XDG_DATA_HOME: join(cwd, "xdg-data") };
    delete env.HOARD_CONFIG;
    delete env.HOARD_DB;
    const r = spawnSync(BIN, ["plugins", "--json"], { cwd, env, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).plugins[0].name).toBe("fs");
  });

  test("embeds the native BLAKE3 addon for this platform", () => {
    const bytes = readFileSync(BIN);
    const addon = `blake.${process.platform}-${process.arch}`;
    expect(bytes.indexOf(`$bunfs/root/${addon}`)).toBeGreaterThan(0);
    expect(bytes.indexOf(".node")).toBeGreaterThan(0);
  });

  test("index → sync → offload → restore round trip; recorded digests equal the reference BLAKE3", () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const w = track(fsWorld({ files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "big.bin": big as unknown as string } }));
    const idx = w.hoard("index", "photos", "--json");
    expect(idx.code).toBe(0);
    expect(idx.json.counts.files).toBe(3);
    // the digests the binary recorded equal the pure-JS reference BLAKE3
    const db = new Database(w.db, { readonly: true });
    const rows = db.query("SELECT f.path, c.blake3 FROM files f JOIN content c ON c.id = f.content_id ORDER BY f.path").all() as { path: string; blake3: string }[];
    db.close();
    const ref = (b: Uint8Array) => referenceBlake3().hashHex!(b);
    expect(rows).toEqual([
      { path: "a.txt", blake3: ref(Buffer.from("alpha\n")) },
      { path: "big.bin", blake3: ref(big) },
      { path: "dir/b.txt", blake3: ref(Buffer.from("bravo\n")) },
    ]);
    const sync = w.hoard("sync", "photos", "--json");
    expect(sync.code).toBe(0);
    expect(sync.json.results[0].counts.verified).toBe(3);
    expect(readFileSync(w.path("nas/photos/big.bin")).equals(big)).toBe(true);
    const off = w.hoard("offload", "photos", ".", "--json");
    expect(off.code).toBe(0);
    expect(off.json.counts.offloaded).toBe(3);
    expect(existsSync(w.path("vol/big.bin"))).toBe(false);
    const res = w.hoard("restore", "photos", "--json");
    expect(res.code).toBe(0);
    expect(res.json.counts.restored).toBe(3);
    expect(readFileSync(w.path("vol/big.bin")).equals(big)).toBe(true);
    expect(w.read("vol/dir/b.txt")).toBe("bravo\n");
    const again = w.hoard("index", "photos", "--json");
    expect(again.json.counts.unchanged).toBe(3);
  });

  test("refusals and usage errors keep their exit codes", () => {
    const w = track(fsWorld({ require: [] }));
    expect(w.hoard("index", "photos").code).toBe(0);
    const off = w.hoard("offload", "photos", ".", "--json");
    expect(off.code).toBe(3);
    expect(off.json.error.code).toBe("no_policy");
    const flag = w.hoard("index", "photos", "--shalow");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("did you mean --shallow?");
    const cmd = w.hoard("indx", "photos");
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("hoard index");
    const un = track(fsWorld({ destInit: false }));
    expect(un.hoard("index", "photos").code).toBe(0);
    const s = un.hoard("sync", "photos", "--json");
    expect(s.code).toBe(3);
    expect(s.json.ok).toBe(false);
    w.setConfig("node = \n");
    const bad = w.hoard("status", "--json");
    expect(bad.code).toBe(2);
    expect(bad.json.error.exit_code).toBe(2);
  });

  test("loads the example plugin from disk, outside the repository", () => {
    const pdir = join(dir, "my-plugins", "require-method");
    cpSync(join(ROOT, "examples/require-method/index.ts"), join(pdir, "index.ts"));
    const w = track(fsWorld());
    const text = readFileSync(w.config, "utf8").replace(/^node = .*\n/m, (m) => `${m}plugins = [${JSON.stringify(join(pdir, "index.ts"))}]\n`);
    writeFileSync(w.config, text.replace(/(\[destinations\.nas\]\n(?:.+\n)*)/, '$1require_method = ["sha256"]\n'));
    const pl = w.hoard("plugins", "--json");
    expect(pl.code).toBe(0);
    expect(pl.json.plugins.at(-1)).toMatchObject({ name: "require-method", source: join(pdir, "index.ts"), hooks: ["sync:preflight", "gate:check"] });
    expect(w.hoard("index", "photos").code).toBe(0);
    const refused = w.hoard("sync", "photos", "--json");
    expect(refused.code).toBe(3);
    expect(refused.json.error.message).toContain("require_method requires sha256");
    writeFileSync(w.config, readFileSync(w.config, "utf8").replace('require_method = ["sha256"]', 'require_method = ["blake3"]'));
    expect(w.hoard("sync", "photos").code).toBe(0);
    expect(w.hoard("offload", "photos", ".", "--json").json.counts.offloaded).toBe(3);
  });

  test("a plugin that imports a package fails to load with the reason (exit 2)", () => {
    const p = join(dir, "pkg-plugin", "index.ts");
    mkdirSync(join(dir, "pkg-plugin"), { recursive: true });
    writeFileSync(p, 'import * as v from "valibot";\nexport default { name: "pkg", apiVersion: 1, setup() { v; } };\n');
    const w = track(world());
    w.setConfig(`node = "n"\nplugins = [${JSON.stringify(p)}]\n`);
    const r = w.hoard("plugins", "--json");
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("plugin_load");
    expect(r.json.error.message).toContain(p);
    expect(r.json.error.hint).toContain("through api");
  });

  test("hoard demo runs every step with the binary itself", () => {
    const out = join(dir, "demo");
    const r = bin(["demo", "--dir", out, "--json"]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.steps.length).toBeGreaterThanOrEqual(8);
    for (const s of j.steps) expect(s.exit_code).toBe(s.expected);
    expect(j.steps.map((s: any) => s.command.split(" ")[1])).toEqual(expect.arrayContaining(["index", "sync", "offload", "restore"]));
    const human = bin(["demo", "--dir", join(dir, "demo2")]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("demo finished");
  }, 120_000);
});
