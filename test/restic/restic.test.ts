// The restic destination through the real CLI and a real restic: wrong password, missing and re-created
// repositories, a forget --prune of hoard's snapshots (alarm; offload keeps the file), a lock.

import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { must, PW, resticWorld, syncResult, type ResticWorld } from "./harness.ts";

const SLOW = 600_000;
const worlds: ResticWorld[] = [];
afterAll(() => {
  for (const w of worlds) w.cleanup();
});
const mk = async (o?: Parameters<typeof resticWorld>[0]) => {
  const w = await resticWorld(o);
  worlds.push(w);
  return w;
};
const noLeak = (w: ResticWorld) => {
  for (const r of w.results) expect(r.stdout + r.stderr).not.toContain(PW);
};

describe.concurrent("restic destination", () => {
  test(
    "sync, then a wrong password: failure naming the password key (exit 1), never the password",
    async () => {
      const w = await mk();
      const s = must(await w.run("sync", "photos", "--json"), "sync");
      expect(syncResult(s).counts.verified).toBe(3);
      w.env.HOARD_TEST_RESTIC_PW = "not-the-password-Zz";
      const bad = await w.run("sync", "photos");
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("wrong password");
      expect(bad.stderr).toContain("destinations.r.password");
      w.env.HOARD_TEST_RESTIC_PW = PW;
      noLeak(w);
    },
    SLOW,
  );

  test(
    "missing repository: a directory that is gone is a failure (exit 1, is it mounted?); an emptied one is refused (exit 3); dest init never runs implicitly",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      rmSync(w.repo, { recursive: true, force: true });
      const gone = await w.run("sync", "photos");
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain("mounted");
      mkdirSync(w.repo);
      const empty = await w.run("sync", "photos");
      expect(empty.code).toBe(3);
      expect(readdirSync(w.repo)).toEqual([]); // nothing created
      noLeak(w);
    },
    SLOW,
  );

  test(
    "re-created repository at the same path (same password): a new identity, refused with exit 3 until dest reset",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      rmSync(w.repo, { recursive: true, force: true });
      expect(w.restic(["init"]).code).toBe(0);
      const s = await w.run("sync", "photos");
      expect(s.code).toBe(3);
      const off = await w.run("offload", "photos", "a.txt");
      expect(off.code).toBe(3);
      expect(off.stderr + off.stdout).toContain("nothing was deleted");
      expect(readdirSync(w.vol)).toContain("a.txt");
      must(await w.run("dest", "reset", "r", "--yes"), "dest reset");
      must(await w.run("sync", "photos"), "sync after reset");
      noLeak(w);
    },
    SLOW,
  );

  test(
    "restic forget --prune of hoard's snapshots: offload keeps the file (not confirmed), the next sync raises an alarm for the offloaded one",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      const off = must(await w.run("offload", "photos", "a.txt", "--json"), "offload");
      expect(off.json.offloaded).toEqual(["a.txt"]);
      const snaps = JSON.parse(w.restic(["snapshots", "--json"]).stdout).map((s: any) => s.id);
      expect(snaps.length).toBeGreaterThan(0);
      const f = w.restic(["forget", "--prune", ...snaps]);
      expect(f.code).toBe(0);
      const off2 = await w.run("offload", "photos", "dir/b.txt", "--json");
      expect(off2.code).not.toBe(0);
      expect(off2.json?.offloaded ?? []).toEqual([]);
      expect(readdirSync(join(w.vol, "dir"))).toContain("b.txt");
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(4);
      expect(syncResult(s).alarms.map((a: any) => a.path)).toEqual(["a.txt"]);
      expect(s.stderr).toContain("ALARM");
      noLeak(w);
    },
    SLOW,
  );

  test(
    "an exclusive lock held by another restic (a prune, paused): the sync fails with restic's own unlock advice, and hoard never unlocks",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      // restic 0.14 lets a backup pass a stale lock of a dead process on this host; a live exclusive
      // lock (or a stale one from another host) stops it: pause a prune as soon as its lock exists
      let held: ReturnType<typeof spawn> | undefined;
      for (let attempt = 0; attempt < 5 && !held; attempt++) {
        const p = spawn("restic", ["-r", w.repo, "prune"], { env: { ...process.env, RESTIC_PASSWORD: PW, RESTIC_CACHE_DIR: join(w.dir, "restic-cache") }, stdio: "ignore" });
        const closed = new Promise((r) => p.once("close", r));
        const until = Date.now() + 60_000;
        while (Date.now() < until && p.exitCode === null) {
          if (readdirSync(join(w.repo, "locks")).some((n) => /^[0-9a-f]{64}$/.test(n))) {
            process.kill(p.pid!, "SIGSTOP");
            held = p;
            break;
          }
          await new Promise((r) => setTimeout(r, 1));
        }
        if (!held) await closed;
      }
      expect(held).toBeDefined();
      try {
        const lockFiles = readdirSync(join(w.repo, "locks"));
        w.write("vol/new.txt", "new\n");
        must(await w.run("index", "photos"), "index");
        const s = await w.run("sync", "photos");
        expect(s.code).toBe(1);
        expect(s.stdout + s.stderr).toContain("is locked");
        expect(s.stdout + s.stderr).toContain("`unlock` command can be used to remove stale locks");
        expect(readdirSync(join(w.repo, "locks"))).toEqual(lockFiles); // hoard removed nothing
      } finally {
        process.kill(held!.pid!, "SIGKILL");
        process.kill(held!.pid!, "SIGCONT");
      }
      expect(w.restic(["unlock", "--remove-all"]).code).toBe(0); // the user's decision, never hoard's
      must(await w.run("sync", "photos"), "sync after the user unlocked");
      noLeak(w);
    },
    SLOW,
  );
});
