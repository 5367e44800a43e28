// End-to-end tests of the kopia destination through the real CLI: explicit init, identity pinning,
// partial snapshots, corruption and loss found by verify, round trip, and the password never leaking.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { creates, DOUBLE_DIR, filesUnder, kopiaWorld, must, PW, REAL, syncResult, type KopiaWorld } from "./harness.ts";

const worlds: KopiaWorld[] = [];
const mk = async (o: Parameters<typeof kopiaWorld>[0] = {}) => {
  const w = await kopiaWorld(o);
  worlds.push(w);
  return w;
};
afterAll(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});
/** Fault injection exists only in the test double. */
const doubleOnly = test.skipIf(REAL);
/** Every step is a real child process (hoard, then kopia), all the file's tests at once, on a possibly busy machine. */
const SLOW = 240_000;

const evidence = (w: KopiaWorld) => w.sql<{ origin_run: bigint; method: string; verified_at: bigint; confirmed_run: bigint; epoch: bigint }>("SELECT origin_run, method, verified_at, confirmed_run, epoch FROM evidence WHERE destination = 'k'");
const output = (w: KopiaWorld) => w.results.map((r) => r.stdout + r.stderr).join("\n");
const noLeak = (w: KopiaWorld, secret: string) => {
  for (const [p, bytes] of filesUnder(w.path("data"))) expect({ p, leak: bytes.includes(secret) }).toEqual({ p, leak: false });
  expect(output(w)).not.toContain(secret);
};

/** Wipe the repository and create a new one at the same path (new unique id), outside hoard. */
function recreateOutside(w: KopiaWorld) {
  rmSync(w.repo, { recursive: true, force: true });
  const bin = process.env.KOPIA_BIN ?? join(DOUBLE_DIR, "kopia");
  const args = ["repository", "create", "filesystem", "--path", w.repo, "--config-file", w.path("outside.config"), "--no-persist-credentials", "--no-check-for-updates"];
  const r = spawnSync(bin, args, { env: { ...w.env, KOPIA_PASSWORD: PW, KOPIA_DOUBLE_LOG: "" }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`outside create failed: ${r.stderr}`);
}

describe.concurrent("explicit init", () => {
  doubleOnly(
    "connect failure: refused without init, a failed init pins and creates nothing, an unreachable repository fails the run; repository create never runs outside dest init",
    async () => {
      const w = await mk({ init: false });
      w.env.KOPIA_DOUBLE_FAIL_CONNECT = "1";
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(3);
      expect(s.stderr).toContain("not initialised");
      expect((await w.run("verify", "k", "photos", "--json")).code).toBe(3);
      expect(existsSync(w.repo)).toBe(false);
      expect(creates(w)).toEqual([]);
      // dest init is the one place that runs create; when it fails nothing is pinned or created
      const i = await w.run("dest", "init", "k");
      expect(i.code).toBe(1);
      expect(i.stderr).toContain("host is down");
      expect(creates(w).length).toBe(1);
      expect(existsSync(w.repo)).toBe(false);
      expect(w.sql("SELECT * FROM destinations")).toEqual([]);
      delete w.env.KOPIA_DOUBLE_FAIL_CONNECT;
      must(await w.run("dest", "init", "k"), "dest init");
      // initialised, then the NAS goes down: the run fails (exit 1), nothing is recorded or created
      w.env.KOPIA_DOUBLE_FAIL_CONNECT = "1";
      const down = await w.run("sync", "photos", "--json");
      expect(down.code).toBe(1);
      expect(down.stderr).toContain("host is down");
      expect(evidence(w)).toEqual([]);
      expect(creates(w).length).toBe(2); // the two dest init attempts, nothing else
    },
    SLOW,
  );

  test(
    "an unmounted repository directory: sync fails, dest reset refuses to create a new one",
    async () => {
      const w = await mk();
      renameSync(w.repo, w.repo + ".away");
      const s = await w.run("sync", "photos");
      expect(s.code).toBe(1);
      expect(s.stderr).toContain("is it mounted");
      const r = await w.run("dest", "reset", "k", "--yes");
      expect(r.code).not.toBe(0);
      expect(existsSync(w.repo)).toBe(false);
      if (!REAL) expect(creates(w).length).toBe(1);
      expect(w.sql("SELECT epoch FROM destinations WHERE name = 'k'")).toEqual([{ epoch: 1 }]);
      renameSync(w.repo + ".away", w.repo);
      expect((await w.run("sync", "photos")).code).toBe(0);
    },
    SLOW,
  );

  test(
    "re-created repository: refused with exit 3, identity change recorded, reset needed, offload waits for new evidence",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      const pinned = w.sql("SELECT identity FROM destinations WHERE name = 'k'")[0].identity as string;
      recreateOutside(w);
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(3);
      expect(s.stderr).toContain("hoard dest reset k --yes");
      const ev = w.sql("SELECT old_identity, new_identity FROM destination_events WHERE destination = 'k' AND kind = 'identity_change'");
      expect(ev.length).toBeGreaterThanOrEqual(1);
      expect(ev[0].old_identity).toBe(pinned);
      expect(ev[0].new_identity).toMatch(/^[0-9a-f]{64}$/);
      expect(ev[0].new_identity).not.toBe(pinned);
      // the recorded evidence of epoch 1 would pass the gate: offload's online identity check refuses
      const off = await w.run("offload", "photos", ".");
      expect(off.code).toBe(3);
      expect(existsSync(join(w.vol, "a.txt"))).toBe(true);
      if (!REAL) expect(creates(w).length).toBe(1);

      const reset = must(await w.run("dest", "reset", "k", "--yes", "--json"), "reset");
      expect(reset.json.identity).toBe(ev[0].new_identity);
      expect(w.sql("SELECT epoch FROM destinations WHERE name = 'k'")).toEqual([{ epoch: 2 }]);
      const off2 = must(await w.run("offload", "photos", ".", "--json"), "offload");
      expect(off2.json.counts.offloaded).toBe(0);
      expect(off2.json.counts.refused).toBe(3);
      expect(existsSync(join(w.vol, "a.txt"))).toBe(true);
      must(await w.run("sync", "photos"), "sync after reset");
      const off3 = must(await w.run("offload", "photos", ".", "--json"), "offload after sync");
      expect(off3.json.counts.offloaded).toBe(3);
    },
    SLOW,
  );

  doubleOnly(
    "sync:preflight refuses a repository re-created after the kernel's identity check",
    async () => {
      const w = await mk();
      must(await w.run("sync", "photos"), "sync");
      const before = evidence(w);
      w.env.KOPIA_DOUBLE_RECREATE = "once"; // the double re-creates it inside hoard's first kopia command
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(3);
      expect(s.json.error.code).toBe("preflight_refused"); // refused by the plugin's listener, before any push
      expect(s.stderr).toContain("re-created");
      expect(s.stderr).toContain("hoard dest reset k --yes");
      expect(evidence(w)).toEqual(before);
      expect(w.sql("SELECT status FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT 1")).toEqual([{ status: "refused" }]);
      expect(creates(w).length).toBe(1);
      const plugins = must(await w.run("plugins", "--json"), "plugins").json;
      const k = (Array.isArray(plugins) ? plugins : plugins.plugins).find((p: any) => p.name === "kopia");
      expect(k.destination_types).toEqual(["kopia"]);
      expect(k.hooks).toContain("sync:preflight");
    },
    SLOW,
  );
});

describe.concurrent("push and verify", () => {
  test(
    "wrong password: error, nothing recorded, no password in the output",
    async () => {
      const w = await mk();
      const wrong = `wrong-${PW.split("").reverse().join("")}`;
      w.env.HOARD_TEST_KOPIA_PW = wrong;
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(1);
      expect(s.stderr).toContain("password");
      expect((await w.run("verify", "k", "photos")).code).toBe(1);
      expect(evidence(w)).toEqual([]);
      expect(w.sql("SELECT * FROM dest_content")).toEqual([]);
      expect(w.sql("SELECT status FROM runs WHERE kind IN ('sync','verify')").map((r) => r.status)).toEqual(["failed", "failed"]);
      noLeak(w, wrong);
      noLeak(w, PW);
    },
    SLOW,
  );

  doubleOnly(
    "partial snapshot: files kopia could not read are not claimed, and offload of them is refused",
    async () => {
      const w = await mk({ files: { "a.txt": "alpha\n", "c.bin": "charlie\n" } });
      w.write("vol/dir/b.txt", "bravo\n");
      must(await w.run("index", "photos"), "index");
      w.env.KOPIA_DOUBLE_PARTIAL = "dir/b.txt";
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(4);
      const r = syncResult(s);
      expect(r.failures.map((f: any) => f.path)).toEqual(["dir/b.txt"]);
      expect(r.failures[0].reason).toContain("could not read");
      expect(r.warnings.join("\n")).toContain("partial snapshot");
      delete w.env.KOPIA_DOUBLE_PARTIAL;
      const off = await w.run("offload", "photos", ".", "--json");
      expect(off.code).toBe(4); // partial: one file refused
      expect(off.json.offloaded.sort()).toEqual(["a.txt", "c.bin"]);
      expect(off.json.counts.refused).toBe(1);
      expect(existsSync(join(w.vol, "dir/b.txt"))).toBe(true);
    },
    SLOW,
  );

  doubleOnly(
    "ignored errors exit 0 but the skipped file is not claimed; an unchanged source (no JSON) checks the latest snapshot",
    async () => {
      const w = await mk();
      w.env.KOPIA_DOUBLE_IGNORED_ERROR = "dir/b.txt";
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(4);
      expect(syncResult(s).failures.map((f: any) => f.path)).toEqual(["dir/b.txt"]);
      expect(syncResult(s).warnings.join("\n")).toContain("ignored");
      delete w.env.KOPIA_DOUBLE_IGNORED_ERROR;
      must(await w.run("sync", "photos"), "sync");
      w.env.KOPIA_DOUBLE_NO_JSON = "1";
      const u = must(await w.run("sync", "photos", "--json"), "unchanged sync");
      expect(syncResult(u).counts.verified).toBe(3);
      const log = w.kopiaLog();
      expect(log.some((l) => l.argv[0] === "snapshot" && l.argv[1] === "list")).toBe(true);
    },
    SLOW,
  );

  doubleOnly(
    "corruption and loss found by verify: evidence not refreshed; an offloaded file's loss is an alarm (exit 4)",
    async () => {
      const w = await mk({ files: { "a.txt": "alpha\n", "copy/a.txt": "alpha\n", "b.txt": "bravo\n" } });
      must(await w.run("sync", "photos"), "sync");
      const [before] = evidence(w);
      const off = must(await w.run("offload", "photos", "a.txt", "--json"), "offload");
      expect(off.json.offloaded).toEqual(["a.txt"]);

      // b.txt's stored bytes flipped: verify (100 % read) finds it, so the receipts of that snapshot's
      // objects are not enough: each is read back; only b.txt's bytes are wrong
      w.env.KOPIA_DOUBLE_CORRUPT = "b.txt";
      const c = await w.run("sync", "photos", "--json");
      expect(c.code).toBe(4);
      const cr = syncResult(c);
      expect(cr.failures.map((f: any) => f.path).sort()).toEqual(["b.txt"]);
      expect(cr.failures[0].reason).toContain("reading it back");
      expect(cr.failures[0].reason).toContain("invalid checksum");
      expect(cr.alarms).toEqual([]); // a.txt was read back and BLAKE3-matched
      const [after] = evidence(w);
      expect(after!.verified_at).toBe(before!.verified_at);
      expect(after!.confirmed_run).toBe(before!.confirmed_run);
      delete w.env.KOPIA_DOUBLE_CORRUPT;

      // the blob behind copy/a.txt (and so behind the offloaded a.txt) disappears: alarm
      w.env.KOPIA_DOUBLE_DROP = "copy/a.txt";
      const d = await w.run("sync", "photos", "--json");
      expect(d.code).toBe(4);
      expect(syncResult(d).alarms.map((a: any) => a.path)).toEqual(["a.txt"]);
      expect(d.stderr).toContain("ALARM");
      delete w.env.KOPIA_DOUBLE_DROP;
      // verify never repairs (only a push has kopia upload lost content again, and in that sync the
      // double dropped the re-uploaded blob too): verify still alarms, evidence is still not refreshed
      const again = await w.run("verify", "k", "photos", "--json");
      expect(again.code).toBe(4);
      expect(syncResult(again).alarms.map((a: any) => a.path)).toEqual(["a.txt"]);
      expect(evidence(w)[0]!.verified_at).toBe(before!.verified_at);
    },
    SLOW,
  );

  test(
    "case 5: a file changed in place (same size, same mtime second) and snapshotted gets no evidence, and offload keeps it once its bytes are back",
    async () => {
      const T0 = 1_700_000_000.1;
      const w = await mk({ files: { "a.txt": "alpha\n", "z.txt": "version A\n" }, index: false });
      const z = join(w.vol, "z.txt");
      utimesSync(z, T0, T0);
      must(await w.run("index", "photos"), "index");
      must(await w.run("sync", "photos"), "sync 1");
      // more new objects than any read-back budget, indexed; then z.txt rewritten in place, same second
      for (let i = 0; i < 20; i++) w.write(`vol/n${String(i).padStart(2, "0")}.txt`, `new file ${i}\n`);
      must(await w.run("index", "photos"), "index 2");
      writeFileSync(z, "version B\n");
      utimesSync(z, T0 + 0.5, T0 + 0.5);
      const s = await w.run("sync", "photos", "--json");
      expect(s.code).toBe(4);
      const r = syncResult(s);
      expect(r.failures.map((f: any) => f.path)).toEqual(["z.txt"]);
      expect(r.failures[0].reason).toContain("differs from the index");
      expect(w.sql("SELECT ok FROM dest_objects WHERE destination = 'k' AND path = 'z.txt'")).toEqual([{ ok: 0 }]);
      // the local bytes are back exactly as indexed: offload still keeps z.txt
      writeFileSync(z, "version A\n");
      utimesSync(z, T0, T0);
      const off = await w.run("offload", "photos", "z.txt", "--json");
      expect(off.json.offloaded).toEqual([]);
      expect(readFileSync(z, "utf8")).toBe("version A\n");
    },
    SLOW,
  );

  test(
    "full round trip: index, dest init, sync, offload, sync, verify, restore",
    async () => {
      const big = randomBytes(300_000);
      const names = ["a.txt", "dir/b.bin", "dir/sub/empty.txt", "with space/é x.txt"];
      const w = await mk({ files: { "a.txt": "alpha\n", "dir/b.bin": big, "dir/sub/empty.txt": "", "with space/é x.txt": "unicode\n" } });
      const mtimes = Object.fromEntries(names.map((p) => [p, statSync(join(w.vol, p)).mtimeMs]));
      const s1 = must(await w.run("sync", "photos", "--json"), "sync 1");
      expect(syncResult(s1).counts.verified).toBe(4);
      expect(syncResult(s1).evidence[0].method).toBe("blake3"); // every object read back
      const s2 = must(await w.run("sync", "photos", "--json"), "sync 2");
      expect(syncResult(s2).evidence[0].method).toBe("blake3");
      const off = must(await w.run("offload", "photos", ".", "--json"), "offload");
      expect(off.json.counts.offloaded).toBe(4);
      expect(existsSync(join(w.vol, "dir/b.bin"))).toBe(false);
      // offloaded files are not in the new snapshot: they are found and verified in the earlier one
      const s3 = must(await w.run("sync", "photos", "--json"), "sync after offload");
      expect(syncResult(s3).counts.verified).toBe(4);
      expect(syncResult(s3).alarms).toEqual([]);
      // the catalog is only a hint: without it the snapshots are scanned
      rmSync(join(w.stateDir, "catalog-photos.json"));
      const v = must(await w.run("verify", "k", "photos", "--json"), "verify without catalog");
      expect(syncResult(v).counts.verified).toBe(4);
      const r = must(await w.run("restore", "photos", "--json"), "restore");
      expect(r.json.counts.restored).toBe(4);
      expect(readFileSync(join(w.vol, "dir/b.bin")).equals(big)).toBe(true);
      expect(readFileSync(join(w.vol, "a.txt"), "utf8")).toBe("alpha\n");
      expect(readFileSync(join(w.vol, "dir/sub/empty.txt"), "utf8")).toBe("");
      expect(readFileSync(join(w.vol, "with space/é x.txt"), "utf8")).toBe("unicode\n");
      for (const [p, m] of Object.entries(mtimes)) expect(Math.round(statSync(join(w.vol, p)).mtimeMs)).toBe(Math.round(m));
    },
    SLOW,
  );
});

describe.concurrent("secrets and config", () => {
  test(
    "the password never appears in kopia's argv, the DB, hoard's state, stdout/stderr or error text",
    async () => {
      const w = await mk();
      // an inherited KOPIA_PASSWORD is replaced by the configured one
      w.env.KOPIA_PASSWORD = "inherited-not-the-password";
      must(await w.run("sync", "photos"), "sync with a misleading KOPIA_PASSWORD inherited");
      delete w.env.KOPIA_PASSWORD;
      must(await w.run("offload", "photos", "a.txt"), "offload");
      // a literal password in the config works and is warned about
      w.writeConfig({ password: PW });
      const lit = must(await w.run("sync", "photos", "--json"), "sync with a literal password");
      expect(syncResult(lit).warnings.join("\n")).toContain("written literally");
      w.writeConfig();
      must(await w.run("restore", "photos"), "restore");
      // a kopia that echoes its environment's password into an error: hoard scrubs it
      const leaky = w.write("leaky-kopia", `#!/usr/bin/env bun\nprocess.stderr.write("open failed for " + process.env.KOPIA_PASSWORD + "\\n");\nprocess.exit(1);\n`);
      chmodSync(leaky, 0o755);
      w.writeConfig({ binary: leaky });
      const bad = await w.run("sync", "photos", "--json");
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("open failed for <password>");
      expect(w.sql("SELECT error FROM runs WHERE error IS NOT NULL").some((r) => String(r.error).includes("<password>"))).toBe(true);

      noLeak(w, PW);
      expect(filesUnder(w.stateDir).some(([p]) => p.endsWith(".kopia-password"))).toBe(false);
      if (!REAL) {
        const log = w.kopiaLog();
        expect(log.length).toBeGreaterThan(10);
        for (const l of log) {
          expect(l.argv.some((a) => a.includes(PW))).toBe(false);
          expect(l.passwordEnv).toBe(true);
          expect(l.argv).toContain("--no-persist-credentials");
        }
        const connects = log.filter((l) => l.argv[0] === "repository" && (l.argv[1] === "create" || l.argv[1] === "connect"));
        expect(connects.length).toBeGreaterThan(0);
        for (const l of connects) expect(l.argv).toContain("--no-check-for-updates");
        expect(readFileSync(w.log, "utf8")).not.toContain(PW);
      }
    },
    SLOW,
  );

  test(
    "config: verify_files_percent must be in (0, 100], unknown keys are errors, a missing password variable is named by the commands that use the destination",
    async () => {
      const w = await mk({ init: false, index: false });
      w.writeConfig({ percent: 0, extra: 'unknown_key = "x"\n' });
      const zero = await w.run("dests");
      expect(zero.code).toBe(2);
      expect(zero.stderr).toContain("verify_files_percent");
      expect(zero.stderr).toContain("unknown_key");
      w.writeConfig({ percent: 101 });
      expect((await w.run("dests")).code).toBe(2);
      w.writeConfig({ percent: 0.5 });
      delete w.env.HOARD_TEST_KOPIA_PW;
      // listing destinations does not open them; initialising k does, and names the variable
      expect((await w.run("dests")).code).toBe(0);
      const r = await w.run("dest", "init", "k");
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("destinations.k.password: environment variable HOARD_TEST_KOPIA_PW is not set");
      w.env.HOARD_TEST_KOPIA_PW = PW;
      expect((await w.run("dests")).code).toBe(0);
    },
    SLOW,
  );
});
