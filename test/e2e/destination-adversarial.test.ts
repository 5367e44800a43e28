// Destinations that change behind hoard's back, end to end through the CLI with real files:
// wiped, silently corrupted, files deleted, unmounted; and a second required destination never synced.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { code, evidence, flipBit, historyCount, liveStatus, read, row, rows, syncedWorld, cleanupWorlds, asyncFsWorld } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(180_000);

afterAll(cleanupWorlds);
const ALL = { "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" };

test.concurrent("destination wiped by hand after a verified sync: offload and sync refused until dest reset, then offload waits for a new verified push", async () => {
  const w = await syncedWorld();
  const id1 = JSON.parse(readFileSync(w.path("nas/.hoard-destination"), "utf8")).id;
  rmSync(w.path("nas"), { recursive: true });
  mkdirSync(w.path("nas")); // an empty directory where the destination was

  // the gate alone (offline, from the DB) would say yes: the online identity check says no
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
  expect(off.json.error.code).toBe("offload_identity");
  expect(off.json.error.message).toContain("nothing was deleted");
  expect(off.json.error.hint).toContain("hoard dest reset nas --yes");
  expect(read(w, "vol/a.txt")).toBe("alpha\n");
  expect(liveStatus(w)).toEqual(ALL);

  const s = code(await w.hoardAsync("sync", "photos", "--json"), 3);
  expect(s.json.error.code).toBe("dest_identity_changed");
  expect(s.json.error.message).toContain(id1);
  expect(s.json.error.hint).toContain("hoard dest reset nas --yes");
  expect(readdirSync(w.path("nas"))).toEqual([]); // the refused sync wrote nothing
  expect(rows(w, "SELECT kind FROM destination_events WHERE destination = 'nas' AND kind = 'identity_change'").length).toBeGreaterThanOrEqual(2);
  expect(rows(w, "SELECT status FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT 1")[0]!.status).toBe("refused");

  // without --yes reset only says what it would do
  const dry = code(await w.hoardAsync("dest", "reset", "nas", "--json"), 0);
  expect(dry.json.applied).toBe(false);
  expect(row(w, "SELECT epoch FROM destinations WHERE name = 'nas'")!.epoch).toBe(1n);
  expect(code(await w.hoardAsync("sync", "photos"), 3).stderr).toContain("hoard dest reset nas --yes");

  const reset = code(await w.hoardAsync("dest", "reset", "nas", "--yes", "--json"), 0);
  expect(reset.json).toMatchObject({ applied: true, epoch: 2, components_zeroed: 1 });
  expect(reset.json.identity).not.toBe(id1);
  expect(evidence(w)).toMatchObject({ origin_run: 0n, confirmed_run: null, epoch: 2n });
  expect(rows(w, "SELECT kind FROM evidence_history ORDER BY id").map((h: any) => h.kind)).toEqual(["advance", "reset"]);

  // a new epoch: the old evidence no longer counts; the refusal says to sync, not to change methods
  const off2 = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off2.json.counts).toMatchObject({ selected: 3, offloaded: 0, refused: 3 });
  expect(off2.json.refusals.map((r: any) => `${r.destination}:${r.code}`)).toEqual(["nas:no_evidence"]);
  expect(off2.json.refusals[0].hint).toContain("hoard sync photos --to nas");
  expect(liveStatus(w)).toEqual(ALL);

  code(await w.hoardAsync("sync", "photos"), 0);
  expect(read(w, "nas/photos/dir/sub/c.bin")).toBe("charlie\n");
  const off3 = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off3.json.counts.offloaded).toBe(3);
  expect(existsSync(w.path("vol/a.txt"))).toBe(false);
});

test.concurrent("after dest reset nothing checked before it is trusted: a bit flipped beforehand (size and mtime kept) is caught by the next sync, not accepted on an old receipt", async () => {
  const w = await syncedWorld();
  const before = evidence(w)!;
  flipBit(w.path("nas/photos/dir/b.txt"));
  // in the same epoch a sync may accept the unchanged-looking file on its receipt (verify would
  // catch it); after a reset it must not
  code(await w.hoardAsync("dest", "reset", "nas", "--yes"), 0);
  const s = code(await w.hoardAsync("sync", "photos", "--to", "nas", "--json"), 0);
  // every file was read back again: the damaged one differed, so it was copied again
  expect(s.json.results[0].counts).toMatchObject({ manifest: 3, verified: 3, transferred: 1 });
  expect(read(w, "nas/photos/dir/b.txt")).toBe(read(w, "vol/dir/b.txt"));
  // and every check carries this run's time, not a receipt's
  const checks = rows(w, "SELECT checked_at, epoch FROM dest_objects WHERE ok = 1");
  expect(checks).toHaveLength(3);
  for (const r of checks) expect([r.epoch, (r.checked_at as bigint) > before.verified_at!]).toEqual([2n, true]);
});

describe("silent corruption at the destination", () => {
  test.concurrent("a bit flipped in a destination file (size and mtime kept): verify catches it, exit 4, evidence not refreshed", async () => {
    const w = await syncedWorld();
    const ev = evidence(w)!;
    const hist = historyCount(w);
    flipBit(w.path("nas/photos/dir/b.txt"));
    const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 4);
    const res = v.json.results[0];
    expect(res.status).toBe("partial");
    expect(res.failures).toEqual([{ path: "dir/b.txt", reason: expect.stringContaining("differs"), offloaded: false, missing: false }]);
    expect(res.alarms).toEqual([]);
    const after = evidence(w)!;
    expect(after.verified_at).toBe(ev.verified_at);
    expect(after.confirmed_run).toBe(ev.confirmed_run);
    expect(after.origin_run).toBe(ev.origin_run);
    expect(after.updated_at).toBeGreaterThan(ev.updated_at);
    expect(historyCount(w)).toBe(hist);
    // the gate now refuses that content (and only that content)
    const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
    expect(dry.json.counts.offloadable).toBe(2);
    expect(dry.json.refusals.map((r: any) => `${r.code}:${r.examples.join(",")}`)).toEqual(["last_check_failed:dir/b.txt"]);
    // the next sync repairs it, keeping the corrupted copy in the destination's history
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts.transferred).toBe(1);
    expect(read(w, "nas/photos/dir/b.txt")).toBe("bravo\n");
    expect(read(w, `nas/photos/.hoard/history/run-${s.json.results[0].run_id}/dir/b.txt`)).toBe("cravo\n");
  });

  test.concurrent("a bit flipped in an offloaded file's only copy: verify raises an alarm (stderr, exit 4), status shows it", async () => {
    const w = await syncedWorld();
    expect(code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 0).json.offloaded).toEqual(["a.txt"]);
    const ev = evidence(w)!;
    flipBit(w.path("nas/photos/a.txt"), 2);
    const v = code(await w.hoardAsync("verify", "nas", "--json"), 4);
    expect(v.json.alarms).toBe(1);
    expect(v.json.results[0].alarms).toEqual([{ path: "a.txt", reason: expect.stringContaining("differs") }]);
    expect(v.stderr).toContain("ALARM");
    expect(v.stderr).toContain("a.txt");
    expect(evidence(w)!.verified_at).toBe(ev.verified_at);
    expect(evidence(w)!.confirmed_run).toBe(ev.confirmed_run);
    const alarm = rows(w, "SELECT path, destination, cleared_at FROM alarms");
    expect(alarm).toEqual([{ path: "a.txt", destination: "nas", cleared_at: null }]);

    const st = code(await w.hoardAsync("status", "photos"), 0);
    expect(st.stdout).toMatch(/ALARM a\.txt: .*differs/);
    const sj = code(await w.hoardAsync("status", "photos", "--json"), 0);
    expect(sj.json.alarms).toBe(1);
    expect(sj.json.volumes[0].destinations[0].alarms.map((a: any) => a.path)).toEqual(["a.txt"]);
    // for cron: status --check exits 4 while the alarm stands
    const chk = code(await w.hoardAsync("status", "photos", "--check", "--json"), 4);
    expect(chk.json.problems.map((p: any) => p.code)).toContain("alarm");
    // a sync cannot re-push it (no local bytes): the alarm stays, exit 4
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 4);
    expect(s.json.alarms).toBe(1);
    expect(rows(w, "SELECT 1 FROM alarms WHERE cleared_at IS NULL")).toHaveLength(1);
  });

  test.concurrent("files deleted at the destination after the sync: verify marks them missing", async () => {
    const w = await syncedWorld();
    rmSync(w.path("nas/photos/dir"), { recursive: true });
    const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 4);
    const res = v.json.results[0];
    expect(res.counts).toMatchObject({ manifest: 3, verified: 1, failed: 2 });
    expect(res.failures.map((f: any) => `${f.path}: ${f.reason}`).sort()).toEqual(["dir/b.txt: missing at nas", "dir/sub/c.bin: missing at nas"]);
    const checks = rows<{ ok: bigint; reason: string | null }>(w, "SELECT ok, reason FROM dest_objects WHERE destination = 'nas' ORDER BY path");
    expect(checks.filter((c) => c.ok === 0n).map((c) => c.reason)).toEqual(["missing at nas", "missing at nas"]);
    const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
    expect(dry.json.counts.offloadable).toBe(1);
    expect(dry.json.refusals[0]).toMatchObject({ destination: "nas", code: "last_check_failed", files: 2 });
    expect(dry.json.refusals[0].reason).toContain("missing at nas");
  });
});

test.concurrent("offload --dry-run decides from the DB only: works with the destination unmounted and a drifted file; deletes nothing", async () => {
  const w = await syncedWorld();
  renameSync(w.path("nas"), w.path("nas-unmounted"));
  w.write("vol/a.txt", "changed, but a dry run does not read files\n");
  const runs = rows(w, "SELECT id FROM runs").length;
  const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
  expect(dry.json).toMatchObject({ dry_run: true, status: "dry-run", run_id: null });
  expect(dry.json.counts).toMatchObject({ selected: 3, offloadable: 3, offloaded: 0 });
  expect(rows(w, "SELECT id FROM runs").length).toBe(runs);
  expect(liveStatus(w)).toEqual(ALL);
  expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  // the real run checks the destination online first: unmounted → refused, nothing deleted
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
  expect(off.json.error.message).toContain("nothing was deleted");
  expect(off.json.error.message).toContain(w.path("nas"));
  expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  expect(read(w, "vol/dir/sub/c.bin")).toBe("charlie\n");
  expect(liveStatus(w)).toEqual(ALL);
});

test.concurrent("two destinations required, only one synced: refused, and the reason names the other one", async () => {
  const w = await asyncFsWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 0, refused: 3 });
  expect(off.json.refusals).toHaveLength(1);
  expect(off.json.refusals[0]).toMatchObject({ destination: "cloud", code: "no_evidence", files: 3 });
  expect(off.json.refusals[0].hint).toContain("hoard sync photos --to cloud");
  const human = code(await w.hoardAsync("offload", "photos", "."), 0);
  expect(human.stdout).toContain("cloud: 3 files");
  expect(human.stdout).toContain("hoard sync photos --to cloud");
  expect(human.stdout).not.toContain("nas:");
  expect(liveStatus(w)).toEqual(ALL);
  code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
  expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(3);
});
