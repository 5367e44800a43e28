// SIGINT/SIGTERM during a command, through the real CLI: the run in progress ends `aborted` with note
// "interrupted", no child process (rclone, kopia, a hook) outlives hoard, what was done is printed, the exit
// code is 130/143, and nothing is lost: each file is present, or offloaded with its row agreeing.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, ROOT, world, type World } from "../helpers.ts";
import { cleanupWorlds, rcloneWorld, row, rows } from "../rclone-e2e/lib.ts";
import { ignoredAtStart, interruptionReport, SIGNAL_EXIT } from "../../src/cli/signals.ts";

setDefaultTimeout(300_000); // real hoard and rclone processes; the machine may be busy
afterAll(cleanupWorlds);

interface Started {
  child: ChildProcess;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Start `hoard ARGS` of world w with extra environment; `ended` says how it ended. `ignoring`: signals ignored from its start (as under nohup). */
function start(w: World, env: Record<string, string>, ...args: string[]): Started {
  return startIgnoring(w, env, [], ...args);
}
function startIgnoring(w: World, env: Record<string, string>, ignoring: string[], ...args: string[]): Started {
  const argv = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args];
  // the shell sets the ignored signals, then becomes hoard (same pid): ignored dispositions survive exec
  const [cmd, ...rest] = ignoring.length ? ["/bin/sh", "-c", `trap '' ${ignoring.join(" ")}; exec "$@"`, "sh", ...argv] : argv;
  const child = spawn(cmd!, rest, { env: { ...w.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return { child, ended: new Promise((r) => child.on("close", (code, signal) => r({ code, signal, stdout, stderr }))) };
}

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  cmdline: string;
}
/** Every live process (zombies left out) from /proc. */
function procs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z" || f[0] === "X") continue;
      out.push({ pid: Number(name), ppid: Number(f[1]), pgrp: Number(f[2]), cmdline: readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ") });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
/** Processes whose command line names `s` (a world's directory: its rclone runs, its hooks). */
const naming = (s: string) => procs().filter((p) => p.cmdline.includes(s));

async function waitFor(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

const pseudo = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 131 + seed * 7 + (i >> 8)) & 0xff);

test("the report of an interruption (pure): the aborted run and where it was, the files it changed, the runs before it", () => {
  const text = interruptionReport(
    "SIGINT",
    [{ id: 7n, kind: "offload", volume: "photos", destination: null, status: "aborted", counts: { phase: "offload", done: 12, total: 40, status_changes: { offloaded: 12 } } }],
    [{ id: 6n, kind: "sync", volume: "photos", destination: "nas", status: "success", counts: {} }],
    1,
  );
  expect(text).toBe(
    "interrupted by SIGINT\n" +
      "  offload run 7 of photos: aborted (last progress: offload 12/40); done before it stopped: 12 files now offloaded\n" +
      "  sync run 6 of photos → nas: success (finished before the interruption)\n" +
      "  stopped 1 child process\n" +
      "  next: run the same command again; what was done stays done, the rest is picked up\n",
  );
  expect(interruptionReport("SIGTERM", [], [], 0)).toStartWith("interrupted by SIGTERM; no run was in progress\n");
  expect(SIGNAL_EXIT).toEqual({ SIGHUP: 129, SIGINT: 130, SIGTERM: 143 });
});

test("signals ignored when hoard starts stay ignored (nohup: SIGHUP; a background job: SIGINT); no /proc: SIGHUP left alone", () => {
  const st = (mask: string) => `Name:\tbun\nSigBlk:\t0000000000000000\nSigIgn:\t${mask}\nSigCgt:\t0000000000000000\n`;
  expect(["SIGHUP", "SIGINT", "SIGTERM"].map((s) => ignoredAtStart(s as any, st("0000000001001001")))).toEqual([true, false, false]);
  expect(["SIGHUP", "SIGINT", "SIGTERM"].map((s) => ignoredAtStart(s as any, st("0000000000004002")))).toEqual([false, true, true]);
  expect(["SIGHUP", "SIGINT", "SIGTERM"].map((s) => ignoredAtStart(s as any, "no such line"))).toEqual([true, false, false]);
});

test.concurrent("SIGINT during a sync to a slow rclone destination: run aborted (interrupted), rclone stopped, one JSON document, exit 130; the next sync completes", async () => {
  const files = { "a.txt": "alpha\n", "big.bin": pseudo(3_000_000, 1) };
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }), files });
  await w.run(0, "index", "photos");
  // rclone reads its flags from the environment: 64 KiB/s makes the 3 MB push last long enough
  const h = start(w, { RCLONE_BWLIMIT: "64k" }, "sync", "photos", "--json");
  await waitFor("the push (rclone copy) to start", () => procs().some((p) => p.ppid === h.child.pid && / copy /.test(p.cmdline)));
  h.child.kill("SIGINT");
  const end = await h.ended;
  expect({ code: end.code, signal: end.signal }).toEqual({ code: 130, signal: null });
  // no rclone of this world is left running (its arguments name the world's directories)
  expect(naming(w.dir)).toEqual([]);

  const doc = JSON.parse(end.stdout); // exactly one document
  expect(doc.error.details.children_stopped).toBeGreaterThanOrEqual(1); // the rclone copy
  expect(doc).toMatchObject({ ok: false, error: { code: "interrupted", kind: "interrupted", exit_code: 130, details: { signal: "SIGINT" } } });
  const run = row<{ id: bigint; status: string; note: string; error: string; counts: string }>(w, "SELECT id, status, note, error, counts FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT 1")!;
  expect({ status: run.status, note: run.note, error: run.error }).toEqual({ status: "aborted", note: "interrupted", error: "interrupted by SIGINT" });
  expect(doc.error.details.aborted).toEqual([expect.objectContaining({ id: Number(run.id), kind: "sync", volume: "photos", destination: "r", status: "aborted" })]);
  expect(JSON.parse(run.counts)).toMatchObject({ phase: expect.any(String), status_changes: {} });
  expect(end.stderr).toContain(`interrupted by SIGINT\n  sync run ${run.id} of photos → r: aborted`);
  // nothing recorded as verified, nothing lost, nothing offloaded; no evidence from a push that never finished
  expect(rows(w, "SELECT * FROM evidence")).toEqual([]);
  expect(readFileSync(join(w.volPath, "big.bin"))).toEqual(Buffer.from(files["big.bin"]));
  // the next sync is not blocked by the interrupted run and completes
  const again = await w.run(0, "sync", "photos", "--json");
  expect(again.json.results[0]).toMatchObject({ status: "success", counts: { verified: 2 } });
  expect(readFileSync(w.path("dest/photos/big.bin"))).toEqual(Buffer.from(files["big.bin"]));
});

test.concurrent("SIGTERM during an offload to rclone: exit 143, run aborted with what it offloaded; every file present or offloaded with its row agreeing; nothing lost", async () => {
  const FILES: Record<string, Uint8Array> = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`d${i % 4}/f${i}.bin`, pseudo(2000 + i * 37, i)]));
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }), files: FILES });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  const names = Object.keys(FILES);
  const gone = () => names.filter((n) => !existsSync(join(w.volPath, n))).length;
  // one file per confirmation round (each asks rclone): the offload takes long enough to be stopped half-way
  const h = start(w, { HOARD_OFFLOAD_BATCH: "1" }, "offload", "photos", ".");
  await waitFor("a first file to be offloaded", () => gone() > 0);
  h.child.kill("SIGTERM");
  const end = await h.ended;
  expect({ code: end.code, signal: end.signal, stdout: end.stdout }).toEqual({ code: 143, signal: null, stdout: "" });
  expect(naming(w.dir)).toEqual([]);

  const run = row<{ id: bigint; status: string; note: string; counts: string }>(w, "SELECT id, status, note, counts FROM runs WHERE kind = 'offload' ORDER BY id DESC LIMIT 1")!;
  expect({ status: run.status, note: run.note }).toEqual({ status: "aborted", note: "interrupted" });
  const offloaded = rows<{ path: string }>(w, "SELECT path FROM files WHERE volume = 'photos' AND status = 'offloaded'").map((r) => r.path);
  expect(offloaded.length).toBeGreaterThan(0);
  expect(offloaded.length).toBeLessThan(names.length);
  expect(JSON.parse(run.counts).status_changes).toEqual({ offloaded: offloaded.length });
  expect(end.stderr).toContain(`interrupted by SIGTERM\n  offload run ${run.id} of photos: aborted`);
  expect(end.stderr).toContain(`${offloaded.length} file${offloaded.length === 1 ? "" : "s"} now offloaded`);

  // every file: here with its bytes and a present row, or gone with an offloaded row and its bytes at the destination
  const status = Object.fromEntries(rows<{ path: string; status: string }>(w, "SELECT path, status FROM files WHERE volume = 'photos' AND status <> 'superseded'").map((r) => [r.path, r.status]));
  for (const [rel, bytes] of Object.entries(FILES)) {
    const here = join(w.volPath, rel);
    if (existsSync(here)) expect({ rel, status: status[rel], same: readFileSync(here).equals(Buffer.from(bytes)) }).toEqual({ rel, status: "present", same: true });
    else expect({ rel, status: status[rel], there: readFileSync(w.path(`dest/photos/${rel}`)).equals(Buffer.from(bytes)) }).toEqual({ rel, status: "offloaded", there: true });
  }
  expect(readdirSync(w.volPath, { recursive: true }).map(String).filter((n) => /(^|\/)\.hoard-offload-/.test(n))).toEqual([]);

  // the next offload finishes the job; a restore brings every byte back
  const more = await w.run(0, "offload", "photos", ".", "--json");
  expect(more.json.counts.offloaded).toBe(names.length - offloaded.length);
  expect(gone()).toBe(names.length);
  await w.run(0, "restore", "photos");
  for (const [rel, bytes] of Object.entries(FILES)) expect({ rel, same: readFileSync(join(w.volPath, rel)).equals(Buffer.from(bytes)) }).toEqual({ rel, same: true });
});

test.concurrent("SIGINT while a volume hook runs: its process group is stopped, its hook run aborted; the finished index run is reported; exit 130", async () => {
  const w = world();
  const vol = w.path("vol");
  mkdirSync(vol, { recursive: true });
  w.write("vol/a.txt", "alpha\n");
  // $0 of the hook's shell is the world's directory, so its process can be found; `sleep` is its child, in its group
  w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(vol)}\n\n[volumes.photos.hook]\ncommand = ${JSON.stringify(["/bin/sh", "-c", "sleep 300; true", w.dir])}\ntimeout = "1h"\n`);
  try {
    const add = w.hoard("volume", "add", "photos", vol);
    expect(add.code).toBe(0);
    const h = start(w, {}, "index", "photos");
    let hookPid = 0;
    await waitFor("the hook to start", () => {
      if (!existsSync(w.db)) return false;
      const r = rows<{ pid: bigint | null }>(w, "SELECT pid FROM hook_runs WHERE status = 'running'")[0];
      hookPid = r?.pid ? Number(r.pid) : 0;
      return hookPid > 0 && procs().some((p) => p.pgrp === hookPid && p.cmdline.startsWith("sleep"));
    });
    h.child.kill("SIGINT");
    const end = await h.ended;
    expect({ code: end.code, signal: end.signal }).toEqual({ code: 130, signal: null });
    expect(procs().filter((p) => p.pgrp === hookPid)).toEqual([]); // the shell and its sleep
    expect(naming(w.dir)).toEqual([]);
    const hook = row<{ status: string; note: string }>(w, "SELECT status, note FROM hook_runs ORDER BY id DESC LIMIT 1")!;
    expect(hook).toEqual({ status: "aborted", note: "interrupted by SIGINT; process group stopped" });
    const idx = row<{ id: bigint; status: string }>(w, "SELECT id, status FROM runs WHERE kind = 'index' ORDER BY id DESC LIMIT 1")!;
    expect(idx.status).toBe("success"); // it had finished; the hook runs after it
    expect(end.stderr).toContain(`interrupted by SIGINT; no run was in progress\n  index run ${idx.id} of photos: success (finished before the interruption)\n  stopped 1 child process`);
  } finally {
    w.cleanup();
  }
});

test.concurrent("SIGINT during a restore from rclone: exit 130, run aborted; every file is back byte for byte or still offloaded; the next restore completes", async () => {
  const FILES: Record<string, Uint8Array> = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`r${i % 3}/g${i}.bin`, pseudo(3000 + i * 53, i + 100)]));
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }), files: FILES });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  await w.run(0, "offload", "photos", ".");
  const names = Object.keys(FILES);
  const back = () => names.filter((n) => existsSync(join(w.volPath, n))).length;
  expect(back()).toBe(0);
  const h = start(w, {}, "restore", "photos");
  await waitFor("a first file to be restored", () => back() > 0);
  h.child.kill("SIGINT");
  const end = await h.ended;
  expect({ code: end.code, signal: end.signal }).toEqual({ code: 130, signal: null });
  expect(naming(w.dir)).toEqual([]);
  const run = row<{ id: bigint; status: string; note: string }>(w, "SELECT id, status, note FROM runs WHERE kind = 'restore' ORDER BY id DESC LIMIT 1")!;
  expect({ status: run.status, note: run.note }).toEqual({ status: "aborted", note: "interrupted" });
  expect(end.stderr).toMatch(new RegExp(`interrupted by SIGINT\n  restore run ${run.id} of photos: aborted \\(last progress: restore \\d+/40\\); done before it stopped: \\d+ files? now present\n`));

  // each file: back with its bytes (its row present, or still offloaded when the stop came between placing it and the row flip), or offloaded and absent
  const status = Object.fromEntries(rows<{ path: string; status: string }>(w, "SELECT path, status FROM files WHERE volume = 'photos' AND status <> 'superseded'").map((r) => [r.path, r.status]));
  let restored = 0;
  for (const [rel, bytes] of Object.entries(FILES)) {
    const here = join(w.volPath, rel);
    if (existsSync(here)) {
      expect({ rel, same: readFileSync(here).equals(Buffer.from(bytes)) }).toEqual({ rel, same: true });
      expect(["present", "offloaded"]).toContain(status[rel] ?? "no row");
      restored++;
    } else expect({ rel, status: status[rel] }).toEqual({ rel, status: "offloaded" });
    expect(readFileSync(w.path(`dest/photos/${rel}`)).equals(Buffer.from(bytes))).toBe(true); // the destination keeps its copy
  }
  expect(restored).toBeGreaterThan(0);
  expect(restored).toBeLessThan(names.length);

  // the next restore brings back the rest; nothing of hoard's is left in the volume after an index
  await w.run(0, "restore", "photos");
  for (const [rel, bytes] of Object.entries(FILES)) expect({ rel, same: readFileSync(join(w.volPath, rel)).equals(Buffer.from(bytes)) }).toEqual({ rel, same: true });
  await w.run(0, "index", "photos");
  expect(rows(w, "SELECT path FROM files WHERE volume = 'photos' AND status <> 'superseded' AND status <> 'present'")).toEqual([]);
  expect(readdirSync(w.volPath, { recursive: true }).map(String).filter((n) => /(^|\/)\.hoard-(restore|tmp)-/.test(n))).toEqual([]);
});

test.concurrent("SIGINT ignored from the start (a background job): a SIGINT changes nothing, the command completes, exit 0", async () => {
  const w = world();
  const vol = w.path("vol");
  mkdirSync(vol, { recursive: true });
  w.write("vol/a.txt", "alpha\n");
  // the hook runs until the test lets it finish (a fixed sleep could end before a loaded machine sees it running)
  const go = w.path("go");
  w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(vol)}\n\n[volumes.photos.hook]\ncommand = ${JSON.stringify(["/bin/sh", "-c", `while [ ! -e ${JSON.stringify(go)} ]; do sleep 0.05; done; true`, w.dir])}\n`);
  try {
    expect(w.hoard("volume", "add", "photos", vol).code).toBe(0);
    const h = startIgnoring(w, {}, ["INT"], "index", "photos");
    await waitFor("the hook to start", () => existsSync(w.db) && rows<{ pid: bigint | null }>(w, "SELECT pid FROM hook_runs WHERE status = 'running' AND pid IS NOT NULL").length > 0);
    h.child.kill("SIGINT");
    await Bun.sleep(300); // the signal has arrived while the hook runs
    writeFileSync(go, "");
    const end = await h.ended;
    expect({ code: end.code, signal: end.signal }).toEqual({ code: 0, signal: null });
    expect(end.stderr).not.toContain("interrupted");
    expect(row<{ status: string }>(w, "SELECT status FROM hook_runs ORDER BY id DESC LIMIT 1")!.status).toBe("success");
  } finally {
    w.cleanup();
  }
});

test.concurrent("SIGTERM while kopia snapshots the volume (a sync): exit 143, sync run aborted (interrupted), the kopia process stopped; the next sync completes", async () => {
  const w = world({ env: { PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, KOPIA_PASSWORD: "kopia-signal-pw" } });
  try {
    w.write("vol/a.txt", "alpha\n");
    // kopia as configured: the double, behind a script (named after the world, so its process can be found)
    // whose `snapshot create` of the volume waits until a flag file appears: the push is in progress for as long as the test wants
    const wrapper = w.path("slow-kopia");
    w.write("slow-kopia", `#!/bin/sh\ncase " $* " in *" snapshot create ${w.path("vol")} "*) while [ ! -e ${JSON.stringify(w.path("go"))} ]; do sleep 0.1; done;; esac\nexec ${JSON.stringify(join(ROOT, "test", "fixtures", "kopia-double", "kopia"))} "$@"\n`);
    chmodSync(wrapper, 0o755);
    w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["k"]\noffload_requires = ["k"]\n\n[destinations.k]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = { env = "KOPIA_PASSWORD" }\nbinary = ${JSON.stringify(wrapper)}\n`);
    for (const args of [["volume", "add", "photos", w.path("vol")], ["dest", "init", "k"], ["index", "photos"]]) expect(w.hoard(...args).code).toBe(0);
    const h = start(w, {}, "sync", "photos");
    await waitFor("kopia's snapshot of the volume to start", () => procs().some((p) => p.cmdline.includes(wrapper) && p.cmdline.includes("snapshot create")));
    h.child.kill("SIGTERM");
    const end = await h.ended;
    expect({ code: end.code, signal: end.signal }).toEqual({ code: 143, signal: null });
    expect(naming(w.dir)).toEqual([]); // the script (and no kopia after it) outlives hoard
    const run = row<{ id: bigint; status: string; note: string; error: string }>(w, "SELECT id, status, note, error FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT 1")!;
    expect({ status: run.status, note: run.note, error: run.error }).toEqual({ status: "aborted", note: "interrupted", error: "interrupted by SIGTERM" });
    expect(end.stderr).toContain(`interrupted by SIGTERM\n  sync run ${run.id} of photos → k: aborted`);
    expect(end.stderr).toMatch(/stopped \d+ child process/);
    expect(rows(w, "SELECT * FROM evidence")).toEqual([]);
    // let kopia through now: the next sync is not blocked by the aborted run and completes
    w.write("go", "");
    const again = w.hoard("sync", "photos", "--json");
    expect(again.code).toBe(0);
    expect(again.json.results[0]).toMatchObject({ destination: "k", status: "success" });
  } finally {
    w.cleanup();
  }
});
