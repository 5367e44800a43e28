// The README's CLI reference is generated from the command tree: this test fails when a command
// or flag changed without `bun scripts/cli-reference.ts --write`; the quick start's demo runs as described,
// and the documented hook environment, rclone remotes and cron line match the code.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fsWorld, world } from "./helpers.ts";
import { hookEnv } from "../src/ops/hooks.ts";
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

// `npm run demo` (the quick start) works in a temporary directory and removes it; --keep keeps it.
describe("hoard demo cleans up after itself", () => {
  const ROOT = join(import.meta.dir, "..");
  const demoEnv = (tmp: string) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(HOARD_|XDG_)/.test(k)) env[k] = v;
    return { ...env, TMPDIR: tmp, NO_COLOR: "1", PATH: `${dirname(process.execPath)}:${env.PATH ?? ""}` };
  };
  const tmps: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "hoard-demo-test-"));
    tmps.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of tmps) rmSync(d, { recursive: true, force: true });
  });

  test.concurrent("npm run demo: every step passes, then its temporary directory is gone", () => {
    const t = tmp();
    const r = spawnSync("npm", ["run", "--silent", "demo"], { cwd: ROOT, env: demoEnv(t), encoding: "utf8", timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const dir = /hoard demo in (\S+)/.exec(r.stdout)?.[1];
    expect(dir?.startsWith(t)).toBe(true);
    expect(r.stdout).toContain(`Removed ${dir} (hoard demo --keep keeps it)`);
    expect(existsSync(dir!)).toBe(false);
    expect(readdirSync(t)).toEqual([]);
  });

  test.concurrent("--keep keeps the temporary directory (config, database, volume, destination)", () => {
    const t = tmp();
    const r = spawnSync(process.execPath, [join(ROOT, "src/cli/main.ts"), "demo", "--keep", "--json"], { env: demoEnv(t), encoding: "utf8", timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, kept: true });
    expect(j.dir.startsWith(t)).toBe(true);
    expect(readdirSync(j.dir).sort()).toEqual(expect.arrayContaining(["config.toml", "hoard.db", "nas", "volume"]));
  });

  test.concurrent("a bad flag is refused before anything is created", () => {
    const t = tmp();
    const r = spawnSync(process.execPath, [join(ROOT, "src/cli/main.ts"), "demo", "--kep"], { env: demoEnv(t), encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("did you mean --keep?");
    expect(readdirSync(t)).toEqual([]);
  });
});

// README facts of the configuration and day-to-day sections hold for the code as it is.
describe("README facts", () => {
  const readme = () => readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");

  test("the hook environment it lists is exactly what a hook gets", () => {
    const env = hookEnv({ volume: "v", path: "/p", runId: 1n, changed: true, trigger: "cli", status: "success" }, 2n);
    const ours = Object.keys(env).filter((k) => k.startsWith("HOARD_")).filter((k) => !(k in process.env)).sort();
    const section = readme().split("### Hooks and cron")[1]!.split("\n## ")[0]!;
    const listed = [...new Set([...section.matchAll(/`(HOARD_[A-Z_]+)`/g)].map((m) => m[1]!))].sort();
    expect(listed).toEqual(ours);
  });

  test("it documents max_evidence_age, reverify_after, rclone verify modes and connection strings", () => {
    const r = readme();
    for (const s of ['max_evidence_age = "30d"', "reverify_after", 'verify = "hash"', 'verify = "download"', "RCLONE_CONFIG_<NAME>_<KEY>", ":sftp,host=nas,user=me:/srv/hoard", "hoard sync --all --index -q && hoard status --check"]) expect(r).toContain(s);
  });

  test("a connection string with a secret is refused, one without is taken (as README says)", () => {
    const w = world();
    try {
      w.setConfig(`node = "n"\n`);
      const bad = w.hoard("dest", "add", "cloud", "--type", "rclone", "remote=:sftp,host=nas,user=me,pass=xyz:/srv/hoard");
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("RCLONE_CONFIG_<NAME>_<KEY>");
      expect(bad.stderr + bad.stdout).not.toContain("xyz");
      expect(w.hoard("dest", "add", "cloud", "--type", "rclone", "remote=:sftp,host=nas,user=me:/srv/hoard").code).toBe(0);
      expect(w.read("config.toml")).toContain(":sftp,host=nas,user=me:/srv/hoard");
    } finally {
      w.cleanup();
    }
  }, 180_000);

  test("the cron line works: sync --all (not with a VOLUME), then status --check", () => {
    const w = fsWorld();
    try {
      const s = w.hoard("sync", "--all", "--index", "-q");
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toBe("");
      const c = w.hoard("status", "--check");
      expect(c.code, c.stdout).toBe(0);
      expect(c.stdout).toContain("check: ok");
      const both = w.hoard("sync", "photos", "--all");
      expect(both.code).toBe(2);
      expect(both.stderr).toContain("give either VOLUME or --all");
    } finally {
      w.cleanup();
    }
  }, 120_000);
});
