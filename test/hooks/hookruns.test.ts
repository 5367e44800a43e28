// hook_runs records (kernel, on a real DB file): first-write-wins finish, skip while a live hook of
// the volume runs, reaping of provably dead running rows, and process-group liveness.

import { afterEach, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { openDb, type Db } from "../../src/kernel/db.ts";
import { AlreadyFinished } from "../../src/kernel/errors.ts";
import { finishRow } from "../../src/kernel/terminal.ts";
import { beginHookRun, finishHookRun, getHookRun, groupAlive, listHookRuns, setHookPid } from "../../src/kernel/hookruns.ts";
import { tempDir } from "../helpers.ts";
import { rmSync } from "node:fs";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function db(): Db {
  const dir = tempDir("hoard-hookruns-");
  const d = openDb(join(dir, "h.db"));
  cleanups.push(() => (d.close(), rmSync(dir, { recursive: true, force: true })));
  return d;
}
const begin = (d: Db, volume = "photos") => beginHookRun(d, { volume, triggerRun: null, trigger: "cli", command: ["/bin/true"], node: "n1" });

describe("hook_runs", () => {
  test("a double finish is refused (AlreadyFinished) and changes nothing", () => {
    const d = db();
    const b = begin(d);
    expect(b.skipped).toBe(false);
    finishHookRun(d, b.id, "success", { exit_code: 0, stderr_tail: "fine" });
    const first = getHookRun(d, b.id)!;
    expect(first.status).toBe("success");
    expect(() => finishHookRun(d, b.id, "failed", { exit_code: 9, stderr_tail: "changed", note: "second" })).toThrow(AlreadyFinished);
    expect(() => finishHookRun(d, b.id, "timeout")).toThrow(/already finished \(status success\)/);
    expect(getHookRun(d, b.id)).toEqual(first);
    // the shared primitive rejects a non-terminal target status
    const c = begin(d, "other");
    expect(() => finishRow(d, "hook_runs", c.id, "running")).toThrow(/not a terminal status/);
    expect(getHookRun(d, c.id)!.status).toBe("running");
  });

  test("a second hook for a volume while one runs (its runner alive) is recorded skipped", () => {
    const d = db();
    const a = begin(d);
    const b = begin(d);
    expect(b.skipped).toBe(true);
    if (!b.skipped) throw new Error("unreachable");
    expect(b.blocker.id).toBe(a.id);
    const row = getHookRun(d, b.id)!;
    expect(row.status).toBe("skipped");
    expect(row.note).toContain(`hook ${a.id} of volume photos is still running`);
    expect(row.finished_at).not.toBeNull();
    // other volumes are independent
    expect(begin(d, "music").skipped).toBe(false);
    expect(listHookRuns(d, { volume: "photos" }).map((r) => r.id)).toEqual([b.id, a.id]);
    expect(listHookRuns(d, { limit: 1 })).toHaveLength(1);
  });

  test("a running row whose runner and process group are gone is reaped as aborted", () => {
    const d = db();
    const a = begin(d);
    const dead = spawnSync("/bin/sh", ["-c", "echo $$"], { encoding: "utf8" });
    const gone = Number(dead.stdout.trim());
    d.run("UPDATE hook_runs SET runner_pid = ?, runner_start = NULL, pid = ? WHERE id = ?", gone, gone, a.id);
    const b = begin(d);
    expect(b.skipped).toBe(false);
    const reaped = getHookRun(d, a.id)!;
    expect(reaped.status).toBe("aborted");
    expect(reaped.note).toContain("reaped by a later hook");
    // a row on another node is never judged dead from here
    d.run("UPDATE hook_runs SET node = 'elsewhere', runner_pid = ? WHERE id = ?", gone, b.id);
    expect(begin(d).skipped).toBe(true);
  });

  test("a hook whose runner died but whose process group lives on still blocks", async () => {
    const d = db();
    const a = begin(d);
    const child = spawn("/bin/sh", ["-c", "sleep 30 & wait"], { detached: true, stdio: "ignore" });
    try {
      const gone = Number(spawnSync("/bin/sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
      d.run("UPDATE hook_runs SET runner_pid = ?, runner_start = NULL WHERE id = ?", gone, a.id);
      setHookPid(d, a.id, child.pid!);
      expect(groupAlive(child.pid!)).toBe(true);
      expect(begin(d).skipped).toBe(true);
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
    for (let i = 0; i < 100 && groupAlive(child.pid!); i++) await Bun.sleep(20);
    expect(groupAlive(child.pid!)).toBe(false);
    expect(begin(d).skipped).toBe(false);
    expect(getHookRun(d, a.id)!.status).toBe("aborted");
  });
});
