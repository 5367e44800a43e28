// Live proof at offload and receipts that are not evidence, end to end through the CLI with fs
// destinations (DESIGN invariants 3-6): every test breaks a destination behind hoard's back.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { hoardCommand, world, type Result, type World } from "../helpers.ts";
import { asyncFsWorld, cleanupWorlds, code, evidence, flipBit, liveStatus, read, row, rows, setMtimeNs, syncedWorld } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(240_000);

const mine: World[] = [];
afterAll(() => {
  cleanupWorlds();
  for (const w of mine.splice(0)) w.cleanup();
});

const ORIGINAL: Record<string, string> = { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" };

/** Add keys to [destinations.nas]: it is the last table of the lib.ts worlds (no extra destinations). */
function nasKeys(w: World, ...lines: string[]): void {
  appendFileSync(w.config, lines.map((l) => `${l}\n`).join(""));
}

/** Every original file of the photos world is back in the volume, byte for byte, and its row is present. */
function allBack(w: World): void {
  for (const [rel, c] of Object.entries(ORIGINAL)) expect(read(w, `vol/${rel}`)).toBe(c);
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
}

const problem = (r: { json: any }, path: string) => (r.json.problems as any[]).find((p) => p.path === path);
const refusalCodes = (r: { json: any }) => (r.json.refusals as any[]).map((x) => `${x.destination}:${x.code}`);
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

describe("case 1: offload confirms live, right before deleting", () => {
  test.concurrent("an object deleted at the destination after the sync: the file is kept (presence), the failure recorded, the gate refuses it until a sync repairs it", async () => {
    const w = await syncedWorld();
    rmSync(w.path("nas/photos/a.txt"));

    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 4);
    expect(off.json.status).toBe("partial");
    expect(off.json.counts.unconfirmed).toBeGreaterThanOrEqual(1);
    expect(problem(off, "a.txt")).toMatchObject({ path: "a.txt", code: "unconfirmed", destination: "nas" });
    expect(problem(off, "a.txt").message).toContain("missing");
    expect(off.json.offloaded.sort()).toEqual(["dir/b.txt", "dir/sub/c.bin"]); // confirmed ones still go
    expect(read(w, "vol/a.txt")).toBe("alpha\n");
    expect(liveStatus(w)["a.txt"]).toBe("present");
    expect(row(w, "SELECT status FROM runs WHERE id = ?", BigInt(off.json.run_id))!.status).toBe("partial");

    // the failed live confirmation is recorded: the offline gate now refuses a.txt
    const again = code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 4);
    expect(refusalCodes(again)).toEqual(["nas:last_check_failed"]);
    expect(again.json.counts.offloaded).toBe(0);
    expect(read(w, "vol/a.txt")).toBe("alpha\n");

    // a sync repairs the object; then everything offloads and comes back byte-exact
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
    const off2 = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
    expect(off2.json.offloaded).toEqual(["a.txt"]);
    expect(existsSync(w.path("vol/a.txt"))).toBe(false);
    code(await w.hoardAsync("restore", "photos"), 0);
    allBack(w);
  });

  test.concurrent("an object corrupted in place (same size, same mtime): --confirm content keeps the file and records the failure; a sync repairs it", async () => {
    const w = await syncedWorld();
    flipBit(w.path("nas/photos/dir/b.txt"));

    const off = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--confirm", "content", "--json"), 4);
    expect(off.json.status).toBe("partial");
    expect(off.json.counts.offloaded).toBe(0);
    expect(off.json.counts.unconfirmed).toBe(1);
    expect(problem(off, "dir/b.txt")).toMatchObject({ code: "unconfirmed", destination: "nas" });
    expect(problem(off, "dir/b.txt").message).toContain("differ");
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");

    // recorded: the gate refuses it even at presence depth
    const again = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--json"), 4);
    expect(refusalCodes(again)).toEqual(["nas:last_check_failed"]);
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");

    // the failed check makes the next sync read the object (no receipt settles it) and push it again
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/dir/b.txt")).toBe("bravo\n");
    expect(code(await w.hoardAsync("offload", "photos", ".", "--confirm", "content", "--json"), 0).json.offloaded.sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
    code(await w.hoardAsync("restore", "photos"), 0);
    allBack(w);
  });

  test.concurrent("presence is the default depth: it sees only the size, so a same-size corruption passes; the next verify raises an alarm for it", async () => {
    const w = await syncedWorld();
    flipBit(w.path("nas/photos/dir/b.txt"));
    const off = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--json"), 0);
    expect(off.json.offloaded).toEqual(["dir/b.txt"]);
    const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 4);
    expect(v.json.results[0].alarms.map((a: any) => a.path)).toEqual(["dir/b.txt"]);
  });

  test.concurrent("offload_confirm = \"content\" on the destination makes content the default depth", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `offload_confirm = "content"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    flipBit(w.path("nas/photos/dir/b.txt"));
    const off = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "a.txt", "--json"), 4);
    expect(off.json.offloaded).toEqual(["a.txt"]);
    expect(problem(off, "dir/b.txt")).toMatchObject({ code: "unconfirmed", destination: "nas" });
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  });

  test.concurrent("reverify_after = \"1s\": a file whose last content check is older is confirmed by content", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_after = "1s"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    flipBit(w.path("nas/photos/dir/b.txt"));
    await Bun.sleep(1100); // the sync's content check is now older than reverify_after
    const off = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--json"), 4);
    expect(off.json.counts.offloaded).toBe(0);
    expect(problem(off, "dir/b.txt")).toMatchObject({ code: "unconfirmed", destination: "nas" });
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  });
});

describe("the destination is storage, not a witness: its answers come from its own tree", () => {
  test.concurrent("a directory at the destination replaced by a symlink to the volume's own directory: confirmation (either depth) reads the local bytes, so nothing there may be offloaded", async () => {
    const w = await syncedWorld();
    rmSync(w.path("nas/photos/dir"), { recursive: true });
    symlinkSync(w.path("vol/dir"), w.path("nas/photos/dir")); // the "copy" is the original itself
    for (const depth of ["content", "presence"]) {
      const off = await w.hoardAsync("offload", "photos", "dir", "--confirm", depth, "--json");
      expect({ depth, code: off.code }).not.toEqual({ depth, code: 0 });
      expect(off.json?.offloaded ?? []).toEqual([]);
      expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
      expect(read(w, "vol/dir/sub/c.bin")).toBe("charlie\n");
      expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    }
  });

  test.concurrent("the same symlink is no proof to verify either: it fails and refreshes nothing", async () => {
    const w = await syncedWorld();
    const before = evidence(w)!;
    rmSync(w.path("nas/photos/dir"), { recursive: true });
    symlinkSync(w.path("vol/dir"), w.path("nas/photos/dir"));
    const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 4);
    expect(v.json.results[0].failures.map((f: any) => f.path).sort()).toEqual(["dir/b.txt", "dir/sub/c.bin"]);
    expect(evidence(w)!.verified_at).toBe(before.verified_at);
  });

  test.concurrent("the volume's directory at the destination replaced by a symlink to the volume root: nothing is offloaded", async () => {
    const w = await syncedWorld();
    rmSync(w.path("nas/photos"), { recursive: true });
    symlinkSync(w.path("vol"), w.path("nas/photos"));
    const off = await w.hoardAsync("offload", "photos", ".", "--confirm", "content", "--json");
    expect(off.code).not.toBe(0);
    expect(off.json?.offloaded ?? []).toEqual([]);
    allBack(w);
  });
});

describe("case 2: a receipt is not evidence", () => {
  test.concurrent("reverify_budget = \"0\": a sync accepts unchanged objects on receipts, counts them as unchanged, and refreshes no evidence", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_budget = "0"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    const before = evidence(w)!;
    flipBit(w.path("nas/photos/a.txt")); // size and mtime kept: a receipt cannot see it

    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    const c = s.json.results[0].counts;
    expect(c.unchanged).toBeGreaterThanOrEqual(1);
    expect(c.unchanged).toBe(3); // every object, a.txt included, was accepted on its receipt
    expect(c.transferred).toBe(0);
    expect(read(w, "nas/photos/a.txt")).not.toBe("alpha\n"); // not read, so not repaired
    const after = evidence(w)!;
    expect(after.verified_at).toBe(before.verified_at);
    expect(after.confirmed_run).toBe(before.confirmed_run);
    expect(after.origin_run).toBe(before.origin_run);
  });

  test.concurrent("with the default re-verification budget, the next sync content-checks the object and repairs it from the local copy", async () => {
    const w = await syncedWorld();
    flipBit(w.path("nas/photos/a.txt"));
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
    expect(s.json.results[0].failures).toEqual([]);
  });

  test.concurrent("an evidence rewind discards the receipts: the next sync reads every object again", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_budget = "0"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    // control: without the rewind, every object is settled by its receipt
    expect(code(await w.hoardAsync("sync", "photos", "--json"), 0).json.results[0].counts.unchanged).toBe(3);

    flipBit(w.path("nas/photos/a.txt"));
    code(await w.hoardAsync("evidence", "rewind", "photos", "nas", "--origin", "testnode", "--to", "0", "--yes"), 0);
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.unchanged).toBe(0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
  });

  test.concurrent("a receipts file forged at the destination (claiming a future check) is ignored: the object is read and repaired", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_budget = "0"`);
    code(await w.hoardAsync("index", "photos"), 0);
    // before hoard ever pushed: a same-size wrong a.txt and a receipts file vouching for it, in the
    // format the fs destination used to keep beside the data (right BLAKE3, size, mtime and epoch)
    const planted = w.write("nas/photos/a.txt", "ALPHA\n");
    const mtime = 1_600_000_000_123_456_789n;
    setMtimeNs(planted, mtime);
    const blake3 = row<{ blake3: string }>(w, "SELECT c.blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = 'photos' AND f.path = 'a.txt'")!.blake3;
    const epoch = String(row<{ epoch: bigint }>(w, "SELECT epoch FROM destinations WHERE name = 'nas'")!.epoch);
    const future = String(nowNs() + 10n * 365n * 86_400n * 1_000_000_000n);
    mkdirSync(w.path("nas/photos/.hoard"), { recursive: true });
    writeFileSync(w.path("nas/photos/.hoard/receipts.ndjson"), JSON.stringify({ path: "a.txt", blake3, size: 6, mtime_ns: String(mtime), checked_at: future, epoch }) + "\n");

    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.unchanged ?? 0).toBe(0);
    expect(s.json.results[0].counts.transferred).toBe(3);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
    expect(evidence(w)!.verified_at!).toBeLessThanOrEqual(nowNs());
  });

  test.concurrent("a new database accepts none of the old receipts (the state directory survives it)", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_budget = "0"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    flipBit(w.path("nas/photos/a.txt"));
    // the old receipts are in hoard's local state, beside the database, and survive its loss
    const stateFiles = (readdirSync(w.path("data/destinations/nas"), { recursive: true }) as string[]).map((f) => w.path(`data/destinations/nas/${f}`));
    expect(stateFiles.some((f) => statSync(f).isFile() && readFileSync(f, "utf8").includes("a.txt"))).toBe(true);
    for (const s of ["", "-wal", "-shm"]) rmSync(w.db + s, { force: true });
    // a missing database is refused while a volume marker names it: starting over is a brand-new
    // setup (the marker removed), then `volume add` creates the new database
    code(await w.hoardAsync("index", "photos"), 3);
    rmSync(w.path("vol/.hoard-volume"));
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol")), 0);
    // re-adoption of the same destination identity (its objects and hoard's local state directory,
    // beside the database, are kept): only the database instance differs from when the receipts were made
    const marker = read(w, "nas/.hoard-destination");
    expect(code(await w.hoardAsync("dest", "init", "nas"), 3).stderr).toContain("--adopt");
    code(await w.hoardAsync("dest", "init", "nas", "--adopt"), 0);
    expect(read(w, "nas/.hoard-destination")).toBe(marker);
    code(await w.hoardAsync("index", "photos"), 0);
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.unchanged ?? 0).toBe(0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
  });
  test.concurrent("two databases sharing one data directory: neither accepts the receipts the other wrote", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `reverify_budget = "0"`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0); // database A: checked every object, wrote receipts
    // database B beside A (a brand-new setup of the same volume and destination), same state directory
    const other = w.path("data/other.db");
    rmSync(w.path("vol/.hoard-volume"));
    code(await withDb(w, other, "volume", "add", "photos", w.path("vol")), 0);
    code(await withDb(w, other, "dest", "init", "nas", "--adopt"), 0);
    code(await withDb(w, other, "index", "photos"), 0);
    code(await withDb(w, other, "sync", "photos"), 0); // B checks every object and writes its receipts
    flipBit(w.path("nas/photos/a.txt")); // after B's check: B's receipt still matches size and mtime
    // A must not settle a.txt on B's receipt: it reads it, finds the damage and repairs it
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.unchanged).toBe(0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/a.txt")).toBe("alpha\n");
  });
});

/** Run hoard on world w's config with another database file `db` (same data directory, so the same state). */
function withDb(w: World, db: string, ...args: string[]): Promise<Result> {
  const [cmd, ...rest] = [...hoardCommand(), "--config", w.config, "--db", db, ...args];
  return new Promise((resolve) => {
    const c = spawn(cmd!, rest, { env: w.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => {
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
  });
}

/** Two volumes v (vdir) and w (wdir) with the same bytes, both syncing to and requiring fs destination nas. */
async function twoVolumeWorld(): Promise<World> {
  const x = world();
  mine.push(x);
  const files = { a: "the same bytes, a\n", b: "the same bytes, b\n" };
  for (const d of ["vdir", "wdir"]) for (const [rel, c] of Object.entries(files)) x.write(`${d}/${rel}`, c);
  x.setConfig(
    `node = "testnode"\n\n` +
      ["v", "w"].map((v) => `[volumes.${v}]\npath = ${JSON.stringify(x.path(`${v}dir`))}\nsync_to = ["nas"]\noffload_requires = ["nas"]\n\n`).join("") +
      `[destinations.nas]\ntype = "fs"\npath = ${JSON.stringify(x.path("nas"))}\n`,
  );
  for (const v of ["v", "w"]) code(await x.hoardAsync("volume", "add", v, x.path(`${v}dir`)), 0);
  code(await x.hoardAsync("dest", "init", "nas"), 0);
  for (const v of ["v", "w"]) {
    code(await x.hoardAsync("index", v), 0);
    code(await x.hoardAsync("sync", v), 0);
  }
  return x;
}

describe("case 3: one volume's success never masks another's failure", () => {
  test.concurrent("same bytes in v and w; w's object deleted at nas: verify w fails, status --check says so, verify v succeeds, offload w keeps the file", async () => {
    const x = await twoVolumeWorld();
    rmSync(x.path("nas/w/b"));
    code(await x.hoardAsync("verify", "nas", "w"), 4);
    const st = code(await x.hoardAsync("status", "--check", "--json"), 4);
    expect(st.json.problems.some((p: any) => p.volume === "w" && p.destination === "nas")).toBe(true);
    code(await x.hoardAsync("verify", "nas", "v"), 0); // the same content checks out for v's object
    code(await x.hoardAsync("status", "w", "--check"), 4); // w's failure still stands

    const off = code(await x.hoardAsync("offload", "w", ".", "--json"), 4);
    const keptByGate = (off.json.refusals as any[]).some((r) => r.destination === "nas" && r.code === "last_check_failed" && r.examples.includes("b"));
    const keptLive = (off.json.problems as any[]).some((p) => p.path === "b" && p.code === "unconfirmed");
    expect(keptByGate || keptLive).toBe(true);
    expect(off.json.offloaded).not.toContain("b");
    expect(read(x, "wdir/b")).toBe("the same bytes, b\n");
    expect(row(x, "SELECT status FROM files WHERE volume = 'w' AND path = 'b' AND status <> 'superseded'")!.status).toBe("present");
  });
  test.concurrent("the same bytes at two paths of one volume: the deleted object keeps its own file, its twin still offloads", async () => {
    const w = await syncedWorld({ files: { "one.txt": "twin bytes\n", "two.txt": "twin bytes\n" } });
    rmSync(w.path("nas/photos/two.txt"));
    code(await w.hoardAsync("verify", "nas", "photos"), 4);
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 4);
    expect(off.json.offloaded).toEqual(["one.txt"]);
    expect(refusalCodes(off)).toEqual(["nas:last_check_failed"]);
    expect(off.json.refusals[0].examples).toEqual(["two.txt"]);
    expect(read(w, "vol/two.txt")).toBe("twin bytes\n");
  });
});

describe("case 4: two destinations that are one place", () => {
  test.concurrent("epool's path edited to dpool's directory: runs touching epool refuse, a reset refuses (dpool pins that identity), offload deletes nothing", async () => {
    const x = world();
    mine.push(x);
    const files = { "a.txt": "alpha\n", "b.txt": "bravo\n" };
    for (const [rel, c] of Object.entries(files)) x.write(`vdir/${rel}`, c);
    const conf = (ePath: string) =>
      `node = "testnode"\n\n[volumes.v]\npath = ${JSON.stringify(x.path("vdir"))}\nsync_to = ["dpool", "epool"]\noffload_requires = ["dpool", "epool"]\n\n` +
      `[destinations.dpool]\ntype = "fs"\npath = ${JSON.stringify(x.path("ddir"))}\n\n[destinations.epool]\ntype = "fs"\npath = ${JSON.stringify(ePath)}\n`;
    x.setConfig(conf(x.path("edir")));
    code(await x.hoardAsync("volume", "add", "v", x.path("vdir")), 0);
    code(await x.hoardAsync("dest", "init", "dpool"), 0);
    code(await x.hoardAsync("dest", "init", "epool"), 0);
    code(await x.hoardAsync("index", "v"), 0);
    code(await x.hoardAsync("sync", "v"), 0); // both hold verified evidence now
    const pins = () => Object.fromEntries(rows<{ name: string; identity: string }>(x, "SELECT name, identity FROM destinations").map((r) => [r.name, r.identity]));
    const before = pins();
    expect(before.dpool).not.toBe(before.epool);

    x.setConfig(conf(x.path("ddir"))); // epool now points at dpool's directory
    const s = code(await x.hoardAsync("sync", "v", "--to", "epool"), 3);
    expect(s.stderr).toContain("identity");
    code(await x.hoardAsync("verify", "epool", "v"), 3);
    const reset = code(await x.hoardAsync("dest", "reset", "epool", "--yes"), 3);
    expect(reset.stderr).toContain("dpool");
    expect(pins()).toEqual(before); // nothing re-pinned

    const off = code(await x.hoardAsync("offload", "v", ".", "--json"), 3);
    expect(off.json.error.kind).toBe("refused");
    for (const [rel, c] of Object.entries(files)) expect(read(x, `vdir/${rel}`)).toBe(c);
    expect(rows(x, "SELECT 1 FROM files WHERE status = 'offloaded'")).toHaveLength(0);
  });
});

describe("trusted destinations and the end of --offline", () => {
  test.concurrent("trusted = true: asked while reachable; unreachable, it is not asked and offload relies on its recorded evidence, and says so", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `trusted = true`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    // reachable, a trusted destination is still asked: a deleted object keeps its file
    rmSync(w.path("nas/photos/a.txt"));
    const asked = code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 4);
    expect(problem(asked, "a.txt")).toMatchObject({ code: "unconfirmed", destination: "nas" });
    expect((asked.json.destinations as any[]).find((d) => (d.name ?? d.destination) === "nas").asked).toBe(true);
    expect(read(w, "vol/a.txt")).toBe("alpha\n");
    code(await w.hoardAsync("sync", "photos"), 0);

    renameSync(w.path("nas"), w.path("nas-away"));
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
    expect(off.json.offloaded.sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
    const nas = (off.json.destinations as any[]).find((d) => (d.name ?? d.destination) === "nas");
    expect(nas).toBeDefined();
    expect(nas.asked).toBe(false);
    renameSync(w.path("nas-away"), w.path("nas"));
    code(await w.hoardAsync("restore", "photos"), 0);
    allBack(w);
  });

  test.concurrent("trusted = true is no excuse for a wiped destination (its marker gone): offload refuses, nothing deleted", async () => {
    const w = await asyncFsWorld();
    nasKeys(w, `trusted = true`);
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    rmSync(w.path("nas/.hoard-destination"));
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
    expect(off.stderr).toContain("nothing was deleted");
    allBack(w);
  });

  test.concurrent("an untrusted unreachable destination: offload refuses (exit 3) and deletes nothing", async () => {
    const w = await syncedWorld();
    renameSync(w.path("nas"), w.path("nas-away"));
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
    expect(off.stderr).toContain("nothing was deleted");
    allBack(w);
  });

  test.concurrent("--offline is gone: a usage error (exit 2), nothing deleted", async () => {
    const w = await syncedWorld();
    code(await w.hoardAsync("offload", "photos", ".", "--offline"), 2);
    allBack(w);
    expect(rows(w, "SELECT 1 FROM runs WHERE kind = 'offload'")).toHaveLength(0);
  });
});
