// Invariants 1 and 2 through the real CLI and the kernel: a live conflicting run refuses (exit 3)
// naming its blocker; provably dead blockers on this node are reaped as `aborted` with a note;
// blockers on another node never are; `runs abort` only for running rows; finishing is
// first-write-wins for both runs and hook_runs.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fsWorld, tempDir, type World } from "../helpers.ts";
import { nowNs, nsToIso, pidExists, processStartTime } from "../../src/kernel/runtime.ts";
import { openDb } from "../../src/kernel/db.ts";
import { beginRun, finishRun, getRun } from "../../src/kernel/runs.ts";
import { finishRow } from "../../src/kernel/terminal.ts";
import { AlreadyFinished, HoardError } from "../../src/kernel/errors.ts";
import { dumpDb, j, runsOf, withDb, filesOf, quickWorld, Worlds } from "./util.ts";

const worlds = new Worlds();
const cleanups: (() => void)[] = [];
afterAll(() => {
  worlds.cleanup();
  while (cleanups.length) cleanups.pop()!();
});
const fw = (): World => worlds.track(quickWorld());
const T = 30_000;

/** Insert a `running` row as if some process were executing it; returns its id and start. */
function insertRunning(w: World, r: { kind?: string; volume?: string | null; destination?: string | null; touches?: string[]; node?: string; pid: number; pidStart: string | null }): { id: bigint; startedAt: bigint } {
  const startedAt = nowNs() - 5_000_000_000n;
  const id = withDb(w.db, (db) =>
    db
      .query("INSERT INTO runs(kind, volume, destination, touches, node, pid, pid_start, started_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id")
      .get(r.kind ?? "index", r.volume === undefined ? "photos" : r.volume, r.destination ?? null, JSON.stringify(r.touches ?? []), r.node ?? "testnode", r.pid, r.pidStart, startedAt) as { id: bigint },
  ).id;
  return { id, startedAt };
}
const row = (w: World, id: bigint) => withDb(w.db, (db) => db.query("SELECT * FROM runs WHERE id = ?").get(id) as any);

/** A pid that certainly belongs to no process right now (a child that has exited). */
function deadPid(): number {
  for (;;) {
    const r = spawnSync("true");
    if (r.pid && !pidExists(r.pid)) return r.pid;
  }
}

describe.concurrent("run gate (CLI)", () => {
  test("a live conflicting run refuses with exit 3, naming the blocker's id, kind and start; the attempt is recorded as refused", async () => {
    const w = fw();
    const blocker = insertRunning(w, { pid: process.pid, pidStart: processStartTime(process.pid)! });
    const r = await w.hoardAsync("index", "photos");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`run ${blocker.id} `);
    expect(r.stderr).toContain("(index");
    expect(r.stderr).toContain(`started ${nsToIso(blocker.startedAt)}`);
    expect(r.stderr).toContain(`hoard runs abort ${blocker.id}`);
    expect(r.stdout).toBe("");
    const js = await w.hoardAsync("index", "photos", "--json");
    expect(js.code).toBe(3);
    expect(js.json.error.code).toBe("run_conflict");
    expect(js.json.error.details.blocker).toMatchObject({ id: Number(blocker.id), kind: "index", volume: "photos", pid: process.pid, node: "testnode" });
    expect(js.json.error.details.blocker.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // nothing was indexed, the blocker is untouched, both attempts are in the audit trail
    expect(filesOf(w.db)).toEqual([]);
    expect(row(w, blocker.id).status).toBe("running");
    const idx = runsOf(w.db).filter((x) => x.kind === "index" && x.id !== blocker.id);
    expect(idx.map((x) => x.status)).toEqual(["refused", "refused"]);
    for (const x of idx) expect(x.error).toContain(`run ${blocker.id}`);
  }, T);

  test("a dead blocker (same node, pid gone) is reaped as aborted with a note, and the new run proceeds", async () => {
    const w = fw();
    const pid = deadPid();
    const blocker = insertRunning(w, { pid, pidStart: "424242" });
    const r = await w.hoardAsync("index", "photos", "--json");
    expect(r.code).toBe(0);
    expect(r.json.status).toBe("success");
    const b = row(w, blocker.id);
    expect(b.status).toBe("aborted");
    expect(b.note).toContain(`process ${pid}`);
    expect(b.note).toMatch(/reaped/);
    expect(b.finished_at).toBeGreaterThan(b.started_at);
    expect(row(w, BigInt(r.json.run_id)).status).toBe("success");
    expect(filesOf(w.db).length).toBe(3);
  }, T);

  test("a pid-reused blocker (live pid, different start time) is reaped", async () => {
    const w = fw();
    const real = processStartTime(process.pid)!;
    const blocker = insertRunning(w, { pid: process.pid, pidStart: String(BigInt(real) + 1n) });
    const r = await w.hoardAsync("index", "photos");
    expect(r.code).toBe(0);
    const b = row(w, blocker.id);
    expect(b.status).toBe("aborted");
    expect(b.note).toMatch(/reaped/);
  }, T);

  test("a blocker on another node is never reaped, even with a pid that is gone here", async () => {
    const w = fw();
    const blocker = insertRunning(w, { pid: deadPid(), pidStart: "1", node: "elsewhere" });
    const before = j(row(w, blocker.id));
    const r = await w.hoardAsync("index", "photos");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`run ${blocker.id} `);
    expect(r.stderr).toContain("elsewhere");
    expect(j(row(w, blocker.id))).toBe(before);
  }, T);

  test("non-conflicting running rows do not block; a destination-wide run blocks sync to its destination only", async () => {
    const w = worlds.track(fsWorld()); // destination initialised: sync gets as far as the gate
    const live = { pid: process.pid, pidStart: processStartTime(process.pid)! };
    insertRunning(w, { ...live, volume: "other" }); // index of another volume
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    const reset = insertRunning(w, { ...live, kind: "dest-reset", volume: null, destination: "nas", touches: ["nas"] });
    expect((await w.hoardAsync("index", "photos")).code).toBe(0); // index touches no destination
    const s = await w.hoardAsync("sync", "photos");
    expect(s.code).toBe(3);
    expect(s.stderr).toContain(`run ${reset.id} (dest-reset`);
  }, T);
});

describe.concurrent("hoard runs abort", () => {
  test("aborts only a running row whose process is gone, recording the note; otherwise exit 3 and nothing changes", async () => {
    const w = fw();
    const live = insertRunning(w, { pid: deadPid(), pidStart: "1" });
    const r = await w.hoardAsync("runs", "abort", String(live.id), "--note", "machine crashed");
    expect(r.code).toBe(0);
    const a = row(w, live.id);
    expect(a.status).toBe("aborted");
    expect(a.note).toBe("machine crashed");
    expect(a.finished_at).not.toBeNull();
    // a second abort, and an abort of a finished run: refused, nothing changed
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    const done = runsOf(w.db).find((x) => x.status === "success")!;
    const dump = dumpDb(w.db);
    for (const id of [live.id, done.id]) {
      const again = await w.hoardAsync("runs", "abort", String(id), "--note", "again");
      expect(again.code).toBe(3);
      expect(again.stderr).toMatch(/not running/);
    }
    expect(dumpDb(w.db)).toBe(dump);
    // without --note a default note is recorded; an unknown id is an error
    const other = insertRunning(w, { pid: deadPid(), pidStart: "1", volume: "x" });
    expect((await w.hoardAsync("runs", "abort", String(other.id))).code).toBe(0);
    expect(row(w, other.id).note).toMatch(/hand/);
    const missing = await w.hoardAsync("runs", "abort", "987654");
    expect([1, 2]).toContain(missing.code);
    expect(missing.stderr).toContain("987654");
  }, T);
});

describe("finishRow: first write wins (runs and hook_runs)", () => {
  function kernelDb() {
    const dir = tempDir();
    const db = openDb(join(dir, "h.db"));
    cleanups.push(() => {
      db.close();
      Bun.spawnSync(["rm", "-rf", dir]);
    });
    return db;
  }
  const snapshot = (db: ReturnType<typeof openDb>, table: string, id: bigint) => j(db.get(`SELECT * FROM ${table} WHERE id = ?`, id));

  test("runs: a second finish raises AlreadyFinished and changes nothing", async () => {
    const db = kernelDb();
    const run = beginRun(db, { kind: "index", volume: "v", node: "n" });
    finishRun(db, run.id, "success", { counts: { files: 3 }, note: "first" });
    const after = snapshot(db, "runs", run.id);
    for (const status of ["failed", "success", "aborted"]) {
      expect(() => finishRow(db, "runs", run.id, status, { note: "second", error: "late" })).toThrow(AlreadyFinished);
      expect(snapshot(db, "runs", run.id)).toBe(after);
    }
    expect(() => finishRun(db, run.id, "partial", { counts: { files: 0 } })).toThrow(AlreadyFinished);
    expect(snapshot(db, "runs", run.id)).toBe(after);
    expect(getRun(db, run.id)!.note).toBe("first");
  }, T);

  test("hook_runs: a second finish raises AlreadyFinished and changes nothing", async () => {
    const db = kernelDb();
    const run = beginRun(db, { kind: "index", volume: "v", node: "n" });
    const id = db.run("INSERT INTO hook_runs(volume, trigger_run, trigger, command, node, pid, started_at) VALUES (?,?,?,?,?,?,?)", "v", run.id, "index:finish", '["/bin/true"]', "n", 1, nowNs()).lastInsertRowid;
    finishRow(db, "hook_runs", id, "timeout", { exit_code: null, signal: "SIGTERM", note: "1h" });
    const after = snapshot(db, "hook_runs", id);
    expect(JSON.parse(after).status).toBe("timeout");
    for (const status of ["success", "failed", "timeout"]) {
      expect(() => finishRow(db, "hook_runs", id, status, { exit_code: 0n })).toThrow(AlreadyFinished);
      expect(snapshot(db, "hook_runs", id)).toBe(after);
    }
  }, T);

  test("a non-terminal (or foreign) target status is rejected and the row stays running", async () => {
    const db = kernelDb();
    const run = beginRun(db, { kind: "index", volume: "v", node: "n" });
    const id = db.run("INSERT INTO hook_runs(volume, trigger, command, node, started_at) VALUES (?,?,?,?,?)", "v", "manual", "[]", "n", nowNs()).lastInsertRowid;
    const r0 = snapshot(db, "runs", run.id);
    const h0 = snapshot(db, "hook_runs", id);
    for (const bad of ["running", "done", "", "SUCCESS", "timeout" /* hook_runs only */]) {
      let err: unknown;
      try {
        finishRow(db, "runs", run.id, bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(HoardError);
      expect(err).not.toBeInstanceOf(AlreadyFinished);
    }
    for (const bad of ["running", "partial" /* runs only */, "refused"]) expect(() => finishRow(db, "hook_runs", id, bad)).toThrow(HoardError);
    expect(snapshot(db, "runs", run.id)).toBe(r0);
    expect(snapshot(db, "hook_runs", id)).toBe(h0);
    // the rows can still be finished properly afterwards
    finishRun(db, run.id, "success");
    finishRow(db, "hook_runs", id, "skipped");
    expect(getRun(db, run.id)!.status).toBe("success");
  }, T);

  test("finishing a row that does not exist is an error, not a silent success", async () => {
    const db = kernelDb();
    expect(() => finishRow(db, "runs", 4242n, "success")).toThrow(HoardError);
    expect(() => finishRow(db, "hook_runs", 4242n, "success")).toThrow(HoardError);
  }, T);
});
