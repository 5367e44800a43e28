// Getting hoard on PATH: `npm run install-bin` installs the compiled binary under PREFIX/bin (default
// ~/.local/bin); read-only commands on a fresh machine create nothing; the README's day-to-day block
// runs verbatim with the installed binary.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { hoardCommand, ROOT, tempDir } from "../helpers.ts";
import { freshHome, run, tree } from "./lib.ts";
import pkg from "../../package.json" with { type: "json" };

// a copy of the repository's layout for the install script: scripts/install-bin.sh + dist/hoard
// (built with the package's own build command into this copy; the repository's dist/ is left alone)
const checkout = tempDir("hoard-install-");
const DIST = join(checkout, "dist", "hoard");

beforeAll(() => {
  mkdirSync(join(checkout, "scripts"), { recursive: true });
  cpSync(join(ROOT, "scripts", "install-bin.sh"), join(checkout, "scripts", "install-bin.sh"));
  const words = pkg.scripts.build.split(/\s+/);
  expect(words[0]).toBe("bun");
  words[words.indexOf("--outfile") + 1] = DIST;
  const r = spawnSync(process.execPath, words.slice(1), { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
}, 180_000);
afterAll(() => spawnSync("rm", ["-rf", checkout]));

const installBin = (env: Record<string, string>, ...args: string[]) => run("bash", [join(checkout, "scripts", "install-bin.sh"), ...args], env);

describe("npm run install-bin", () => {
  test("the npm script runs scripts/install-bin.sh", () => {
    expect((pkg.scripts as Record<string, string>)["install-bin"]).toBe("bash scripts/install-bin.sh");
  });

  test("default: ~/.local/bin/hoard, an executable that runs; says when the directory is not on PATH", () => {
    const { home, env } = freshHome();
    const r = installBin(env);
    expect(r.code).toBe(0);
    const bin = join(home, ".local", "bin", "hoard");
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    expect(readFileSync(bin).equals(readFileSync(DIST))).toBe(true);
    expect(r.stdout).toContain(`installed ${bin} (hoard ${pkg.version})`);
    expect(r.stdout).toContain("is not on your PATH");
    expect(run(bin, ["--version"], env).stdout).toBe(`hoard ${pkg.version}\n`);
    // installing again replaces it in place, leaving no temp file behind
    expect(installBin({ ...env, PATH: `${join(home, ".local", "bin")}:${env.PATH}` }).stdout).not.toContain("not on your PATH");
    expect(tree(join(home, ".local", "bin"))).toEqual(["hoard"]);
  });

  test("PREFIX=DIR and --prefix DIR install DIR/bin/hoard; --prefix wins", () => {
    const { home, env } = freshHome();
    const a = join(home, "opt-a");
    const b = join(home, "opt-b");
    expect(installBin({ ...env, PREFIX: a }).code).toBe(0);
    expect(existsSync(join(a, "bin", "hoard"))).toBe(true);
    expect(installBin({ ...env, PREFIX: a }, "--prefix", b).code).toBe(0);
    expect(existsSync(join(b, "bin", "hoard"))).toBe(true);
    expect(existsSync(join(home, ".local"))).toBe(false);
    expect(installBin(env, "--bogus").code).toBe(2);
  });

  test("without a build: exit 1 naming npm run build, nothing installed", () => {
    const { home, env } = freshHome();
    const empty = tempDir("hoard-nobuild-");
    mkdirSync(join(empty, "scripts"));
    cpSync(join(ROOT, "scripts", "install-bin.sh"), join(empty, "scripts", "install-bin.sh"));
    const r = run("bash", [join(empty, "scripts", "install-bin.sh")], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("npm run build");
    expect(existsSync(join(home, ".local"))).toBe(false);
  });
});

describe("a fresh machine", () => {
  test("read-only commands (status, runs, evidence, dests, volumes, plugins, alarms, ls) create no config and no database", () => {
    const { home, env } = freshHome();
    const [cmd, ...pre] = hoardCommand();
    for (const args of [["status"], ["status", "--check"], ["runs"], ["evidence"], ["dests"], ["volumes"], ["plugins"], ["alarms"], ["alarms", "--all", "--json"], ["status", "--json"]]) {
      const r = run(cmd!, [...pre, ...args], env, home);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: "" });
    }
    expect(run(cmd!, [...pre, "ls", "photos"], env, home).code).toBe(2); // no such volume: a usage error, still nothing written
    expect(tree(home).filter((p) => !p.startsWith(".bun"))).toEqual([]);
    // and with a config that declares no volume, still no database
    mkdirSync(join(home, ".config", "hoard"), { recursive: true });
    writeFileSync(join(home, ".config", "hoard", "config.toml"), 'node = "n1"\n');
    expect(run(cmd!, [...pre, "status"], env, home).code).toBe(0);
    expect(existsSync(join(home, ".local"))).toBe(false);
  });

  test("the README's day-to-day block runs verbatim with the installed binary (paths replaced by temp ones)", () => {
    const { home, env } = freshHome();
    expect(installBin(env).code).toBe(0);
    env.PATH = `${join(home, ".local", "bin")}:${env.PATH}`;
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const block = /Day-to-day use[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    // each line as written (its comment too) is run by bash; only the two example paths become temp ones
    const lines = block.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    const command = (l: string) => l.replace(/\s+#.*$/, "").trim();
    expect(command(lines[0]!)).toBe("hoard init");
    expect(command(lines.at(-1)!)).toBe("hoard status --check");
    const photos = join(home, "data", "photos");
    const nas = join(home, "mnt", "nas", "hoard");
    mkdirSync(join(photos, "2019"), { recursive: true });
    writeFileSync(join(photos, "2019", "beach.jpg"), "beach\n");
    writeFileSync(join(photos, "2019", "dune.mov"), "dune\n");
    writeFileSync(join(photos, "notes.txt"), "notes\n");
    for (const text of lines) {
      const line = command(text);
      expect(line.startsWith("hoard ")).toBe(true);
      const r = run("bash", ["-c", text.replaceAll("/data/photos", photos).replaceAll("/mnt/nas/hoard", nas)], env, home);
      expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: "" });
      if (line === "hoard offload photos 2019") expect(existsSync(join(photos, "2019", "beach.jpg"))).toBe(false);
    }
    expect(readFileSync(join(photos, "2019", "beach.jpg"), "utf8")).toBe("beach\n");
    expect(readFileSync(join(photos, "2019", "dune.mov"), "utf8")).toBe("dune\n");
  }, 180_000);
});
