// Catalogs written by the real CLI: a sync writes one at the destination that decodes to the live rows
// (BLAKE3s of the real files, signed by `hoard key show`'s key); a no-change sync that re-verifies and a
// verify write none (same rows); a changed tree writes a new one and keeps the old; an unwritable
// catalog directory is a warning, not a failure; a destination type without catalogs is skipped.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { world, type World } from "../helpers.ts";
import { decodeCatalog } from "../../src/kernel/catalog.ts";
import { blake3Hex } from "../rclone/harness.ts";
import { DOUBLE_DIR, PW } from "../kopia/harness.ts";
import { ROOT } from "../helpers.ts";

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => w.cleanup()));

const FILES: Record<string, string> = { "a.txt": "alpha\n", "dir/b c.txt": "bravo with a space\n", "dir/sub/ü.bin": "x".repeat(100_000) };

function setup(kind: "fs" | "rclone" | "kopia") {
  const w = world(kind === "kopia" ? { env: { HOARD_TEST_KOPIA_PW: PW, PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}` } } : {});
  worlds.push(w);
  for (const [p, c] of Object.entries(FILES)) w.write(`vol/${p}`, c);
  const destDir = w.path("dest");
  if (kind === "rclone") w.env.RCLONE_CONFIG = w.path("rclone.conf");
  const table =
    kind === "fs"
      ? `type = "fs"\npath = ${JSON.stringify(destDir)}`
      : kind === "rclone"
        ? `type = "rclone"\nremote = ${JSON.stringify(destDir)}`
        : `type = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = { env = "HOARD_TEST_KOPIA_PW" }`;
  w.setConfig(`node = "laptop"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["d"]\noffload_requires = ["d"]\n\n[destinations.d]\n${table}\n`);
  const run = (code: number, ...args: string[]) => {
    const r = w.hoard(...args, "--json");
    if (r.code !== code) throw new Error(`hoard ${args.join(" ")} exited ${r.code}, expected ${code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  run(0, "volume", "add", "photos", w.path("vol"));
  run(0, "dest", "init", "d");
  run(0, "index", "photos");
  const catDir = join(destDir, "photos", ".hoard", "catalogs");
  const names = () => {
    try {
      return readdirSync(catDir).sort();
    } catch {
      return [];
    }
  };
  return { w, run, catDir, names };
}

/** The rows a catalog must hold: every file of the volume as it is now, with its real BLAKE3. */
function expectedRows(w: World, files: Record<string, string>) {
  return Object.keys(files)
    .sort()
    .map((p) => {
      const abs = w.path(`vol/${p}`);
      const st = statSync(abs, { bigint: true });
      return { path: p, size: Number(st.size), mtimeNs: st.mtimeNs, blake3: blake3Hex(readFileSync(abs)), status: "present" };
    });
}

for (const kind of ["fs", "rclone"] as const)
  describe(kind, () => {
    test("a sync writes a catalog of the live rows, signed by this node's key; a no-change re-verifying sync and a verify write none; a changed tree writes a new one and keeps the old", () => {
      const { w, run, catDir, names } = setup(kind);
      const key = run(0, "key", "show").json;
      expect(key.fingerprint).toMatch(/^hoard:[0-9a-f]{32}$/);

      const s1 = run(0, "sync", "photos").json.results[0];
      expect(s1.catalog).toMatchObject({ rows: 3, written: true });
      expect(names()).toEqual([s1.catalog.name]);
      const c1 = decodeCatalog(s1.catalog.name, readFileSync(join(catDir, s1.catalog.name)));
      expect(c1.publicKey).toBe(key.public_key);
      expect(c1.fingerprint).toBe(key.fingerprint);
      expect(c1.catalog).toMatchObject({ volume: "photos", node: "laptop", destination: "d", runId: BigInt(s1.run_id) });
      expect(c1.catalog.rows).toEqual(expectedRows(w, FILES) as any);

      // no change; the sync re-reads everything (the default budget covers this small tree): same rows
      const s2 = run(0, "sync", "photos").json.results[0];
      expect(s2.evidence.map((e: any) => e.result)).toContain("reverified");
      expect(s2.catalog).toMatchObject({ name: s1.catalog.name, rows: 3, written: false });
      const v = run(0, "verify", "d", "photos").json.results[0];
      expect(v.catalog).toMatchObject({ name: s1.catalog.name, written: false });
      expect(names()).toEqual([s1.catalog.name]);

      // a changed file and a new one: a new catalog, the old one kept untouched
      const old = readFileSync(join(catDir, s1.catalog.name));
      const changed = { ...FILES, "a.txt": "alpha, edited\n", "new/z.txt": "zulu\n" };
      w.write("vol/a.txt", changed["a.txt"]);
      w.write("vol/new/z.txt", changed["new/z.txt"]);
      run(0, "index", "photos");
      const s3 = run(0, "sync", "photos").json.results[0];
      expect(s3.catalog).toMatchObject({ rows: 4, written: true });
      expect(s3.catalog.name > s1.catalog.name).toBe(true); // names sort by time
      expect(names()).toEqual([s1.catalog.name, s3.catalog.name]);
      expect(readFileSync(join(catDir, s1.catalog.name)).equals(old)).toBe(true);
      const c3 = decodeCatalog(s3.catalog.name, readFileSync(join(catDir, s3.catalog.name)));
      expect(c3.catalog.rows).toEqual(expectedRows(w, changed) as any);
      expect(decodeCatalog(s1.catalog.name, old).catalog.rows.find((r) => r.path === "a.txt")!.blake3).toBe(blake3Hex(Buffer.from(FILES["a.txt"]!)));

      // a catalog removed by hand is written again by the next re-verifying run, though the rows are the same
      unlinkSync(join(catDir, s3.catalog.name));
      const s4 = run(0, "verify", "d", "photos").json.results[0];
      expect(s4.catalog).toMatchObject({ rows: 4, written: true });
      expect(names()).toEqual([s1.catalog.name, s4.catalog.name].sort());
    });

    test("offloaded rows stay in the catalog (status offloaded); rows not verified there are left out", () => {
      const { w, run, catDir } = setup(kind);
      run(0, "sync", "photos");
      run(0, "offload", "photos", "a.txt");
      const s = run(0, "verify", "d", "photos").json.results[0];
      const name = s.catalog.name;
      const rows = decodeCatalog(name, readFileSync(join(catDir, name))).catalog.rows;
      expect(rows.find((r) => r.path === "a.txt")).toMatchObject({ status: "offloaded", blake3: blake3Hex(Buffer.from(FILES["a.txt"]!)) });
      expect(rows.length).toBe(3);
      // an object damaged at the destination: its row is not in the next catalog (it does not hold there)
      const obj = join(w.path("dest"), "photos", "dir", "b c.txt");
      writeFileSync(obj, "BRAVO WITH A SPACE\n");
      const bad = run(4, "verify", "d", "photos").json.results[0];
      expect(bad.status).toBe("partial");
      if (bad.catalog) {
        const rows2 = decodeCatalog(bad.catalog.name, readFileSync(join(catDir, bad.catalog.name))).catalog.rows;
        expect(rows2.map((r) => r.path)).not.toContain("dir/b c.txt");
      }
    });
  });

test("fs: an unwritable catalog directory is a warning on the run, not a failure; the next run writes it", () => {
  const { run, catDir, names } = setup("fs");
  mkdirSync(join(catDir, ".."), { recursive: true });
  writeFileSync(catDir, "in the way"); // a file where the directory belongs
  const r = run(0, "sync", "photos").json.results[0];
  expect(r.status).toBe("success");
  expect(r.catalog).toBeNull();
  expect(r.warnings.join("\n")).toMatch(/catalog of photos was not written/);
  rmSync(catDir);
  const again = run(0, "verify", "d", "photos").json.results[0];
  expect(again.catalog).toMatchObject({ rows: 3, written: true });
  expect(names()).toEqual([again.catalog.name]);
});

test("kopia (the double): the sync writes a catalog into the repository, with no warning", () => {
  const { run } = setup("kopia");
  const r = run(0, "sync", "photos").json.results[0];
  expect(r.status).toBe("success");
  expect(r.catalog).toMatchObject({ rows: Object.keys(FILES).length, written: true });
  expect(r.warnings.filter((x: string) => /catalog/.test(x))).toEqual([]);
});

test("hoard key show: the same key every time, created by hoard init, private", () => {
  const w = world();
  worlds.push(w);
  const init = w.hoard("init", "--node", "n1", "--json");
  expect(init.code).toBe(0);
  const show = w.hoard("key", "show", "--json");
  expect(show.code).toBe(0);
  expect(show.json).toEqual({ public_key: init.json.key.public_key, fingerprint: init.json.key.fingerprint });
  expect(show.json.public_key).toMatch(/^[0-9a-f]{64}$/);
  expect(w.hoard("key", "show", "--json").json).toEqual(show.json);
  const keyFile = join(w.db, "..", "keys", "node.key");
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(statSync(join(w.db, "..", "keys")).mode & 0o777).toBe(0o700);
  expect(readFileSync(keyFile, "utf8")).toContain(show.json.public_key);
  const human = w.hoard("key", "show");
  expect(human.stdout).toContain(show.json.fingerprint);
  // a key readable by others is refused
  chmodSync(keyFile, 0o644);
  const bad = w.hoard("key", "show", "--json");
  expect(bad.code).toBe(1);
  expect(bad.stderr + bad.stdout).toMatch(/readable by others/);
});
