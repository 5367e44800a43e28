// Private state (invariant 9): the config, the DB (and its -wal/-shm), the data and config
// directories hoard creates are 0600/0700 whatever the umask; doctor warns about a config file
// readable by others while it holds a literal secret.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { hoardCommand, world, type Result, type World } from "../helpers.ts";

const made: World[] = [];
afterAll(() => {
  for (const w of made.splice(0)) w.cleanup();
});
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

/** Run hoard under umask 000 (so only hoard's explicit modes can make anything private). */
function hoardUmask0(w: World, config: string, db: string, ...args: string[]): Result {
  const r = spawnSync("/bin/sh", ["-c", 'umask 000; exec "$@"', "sh", ...hoardCommand(), "--config", config, "--db", db, ...args], { env: w.env, encoding: "utf8" });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {}
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

describe("modes of what hoard creates", () => {
  test("under umask 000: config 0600, DB and its -wal/-shm 0600, new directories 0700", () => {
    const w = world();
    made.push(w);
    const config = w.path("cfg/deep/config.toml");
    const db = w.path("state/data/hoard.db");
    const init = hoardUmask0(w, config, db, "init", "--node", "testnode");
    expect(init.code).toBe(0);
    expect(mode(config)).toBe("600");
    expect(mode(w.path("cfg"))).toBe("700");
    expect(mode(w.path("cfg/deep"))).toBe("700");
    expect(mode(db)).toBe("600");
    expect(mode(w.path("state"))).toBe("700");
    expect(mode(w.path("state/data"))).toBe("700");

    // the -wal and -shm exist while hoard holds the DB open: a volume hook sees them
    mkdirSync(w.path("vol"));
    writeFileSync(w.path("vol/a.txt"), "alpha\n");
    const out = w.path("modes.txt");
    const hook = w.write("hook.sh", `#!/bin/sh\nstat -c '%a %n' "${db}" "${db}-wal" "${db}-shm" > "${out}"\n`);
    chmodSync(hook, 0o755);
    appendFileSync(config, `\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\n\n[volumes.photos.hook]\ncommand = [${JSON.stringify(hook)}]\n`);
    expect(hoardUmask0(w, config, db, "volume", "add", "other", w.path("other-missing")).code).toBe(2); // (no such dir: nothing written)
    expect(hoardUmask0(w, config, db, "volume", "add", "photos", w.path("vol")).code).toBe(0);
    mkdirSync(w.path("more"));
    expect(hoardUmask0(w, config, db, "volume", "add", "more", w.path("more")).code).toBe(0); // rewrites the config
    expect(mode(config)).toBe("600");
    const idx = hoardUmask0(w, config, db, "index", "photos", "--json");
    expect(idx.code).toBe(0);
    expect(idx.json.hook.status).toBe("success");
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines).toEqual([`600 ${db}`, `600 ${db}-wal`, `600 ${db}-shm`]);
  }, 180_000);

  test("volume add on a config made by hand keeps the file's mode; the DB and data dir it creates are private", () => {
    const w = world();
    made.push(w);
    mkdirSync(w.path("vol"));
    w.setConfig(`node = "testnode"\n`);
    chmodSync(w.config, 0o640);
    const r = hoardUmask0(w, w.config, w.db, "volume", "add", "photos", w.path("vol"));
    expect(r.code).toBe(0);
    expect(mode(w.config)).toBe("640"); // the user's file, the user's mode
    expect(mode(w.db)).toBe("600");
    expect(mode(join(w.dir, "data"))).toBe("700");
  }, 180_000);
});

describe("doctor", () => {
  test("warns when a config holding a literal secret is readable by group or others; not when private or when the secret comes from the environment", () => {
    const w = world({ env: { HOARD_SAFETY_PW: "from-env-pw" } });
    made.push(w);
    const literal = `node = "testnode"\n\n[destinations.vault]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = "hunter2-literal"\n`;
    w.setConfig(literal);
    chmodSync(w.config, 0o644);
    const open = w.hoard("doctor", "--json");
    expect(open.json.warnings).toHaveLength(1);
    expect(open.json.warnings[0]).toContain("destinations.vault.password");
    expect(open.json.warnings[0]).toContain("0644");
    expect(open.stderr).toContain("literal secret");
    expect(open.stdout + open.stderr).not.toContain("hunter2-literal");

    chmodSync(w.config, 0o600);
    expect(w.hoard("doctor", "--json").json.warnings).toEqual([]);

    w.setConfig(literal.replace('"hunter2-literal"', '{ env = "HOARD_SAFETY_PW" }'));
    chmodSync(w.config, 0o644);
    expect(w.hoard("doctor", "--json").json.warnings).toEqual([]);
  }, 180_000);
});
