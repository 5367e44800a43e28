// Index benchmark: hoard vs b3sum on the same trees in the same run.
// (a) large files, (b) many 4 KiB files, (c) --shallow re-index of (b) unchanged.
//
// Usage: bun bench/index.ts [--only-hash] [--keep]
//   default      times the real CLI: bun src/cli/main.ts --config CFG --db DB index VOL [--shallow] --json
//                (HOARD_BIN=/path/to/compiled/hoard to time a `bun build --compile` binary instead)
//   --only-hash  times the hashing library in-process: (a) hashFile on one thread (info) and through
//                the hash pool, (b) walk + hashFile, (c) walk + lstat + compare (the floor of --shallow)
//   --keep       leave the generated trees in place (their path is printed)
// Env: BENCH_DIR (parent of the temp tree; default the OS temp dir), BENCH_LARGE_MB (2048),
//      BENCH_LARGE_FILES (8), BENCH_SMALL_FILES (100000), BENCH_REPEAT (3: every measurement, hoard
//      and peers alike, is repeated and the best kept; the VM's timings are noisy)

import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hashFile, type FileHash } from "../src/kernel/hash.ts";
import { createHashPool, defaultPoolSize } from "../src/kernel/hashpool.ts";
import { blake3Backend } from "../src/kernel/runtime.ts";

const argv = process.argv.slice(2);
const ONLY_HASH = argv.includes("--only-hash");
const KEEP = argv.includes("--keep") || process.env.BENCH_KEEP === "1";
const envInt = (k: string, d: number) => {
  const v = process.env[k];
  if (v === undefined || v === "") return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};
const LARGE_MB = envInt("BENCH_LARGE_MB", 2048);
const LARGE_FILES = Math.max(1, envInt("BENCH_LARGE_FILES", 8));
const SMALL_FILES = envInt("BENCH_SMALL_FILES", 100_000);
const REPEAT = Math.max(1, envInt("BENCH_REPEAT", 3));
const SMALL_SIZE = 4096;
const PER_DIR = 1000;

const REPO = resolve(import.meta.dir, "..");
const log = (...a: unknown[]) => console.error("[bench]", ...a);
const now = () => performance.now() / 1000;

// ---------- tree generation ----------

const root = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), "hoard-bench-"));
const largeDir = join(root, "large");
const smallDir = join(root, "small");
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (KEEP) log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function generate(): { largeFiles: string[]; largeBytes: number } {
  mkdirSync(largeDir, { recursive: true });
  mkdirSync(smallDir, { recursive: true });
  // One random block, patched with a counter every MiB, so every file and chunk is distinct.
  const block = randomBytes(64 << 20);
  const perFile = Math.floor((LARGE_MB * 1024 * 1024) / LARGE_FILES);
  const largeFiles: string[] = [];
  let counter = 0;
  let t = now();
  for (let f = 0; f < LARGE_FILES; f++) {
    const p = join(largeDir, `large-${String(f).padStart(2, "0")}.bin`);
    const fd = openSync(p, "w");
    let left = perFile;
    while (left > 0) {
      const n = Math.min(left, block.length);
      for (let off = 0; off < n; off += 1 << 20) block.writeUInt32LE(counter++, off);
      writeSync(fd, block, 0, n);
      left -= n;
    }
    closeSync(fd);
    largeFiles.push(p);
  }
  log(`wrote ${LARGE_FILES} × ${(perFile / 1048576).toFixed(0)} MiB in ${(now() - t).toFixed(1)} s`);
  t = now();
  const buf = Buffer.allocUnsafe(SMALL_SIZE);
  for (let i = 0; i < SMALL_FILES; i++) {
    const d = join(smallDir, `d${String(Math.floor(i / PER_DIR)).padStart(4, "0")}`);
    if (i % PER_DIR === 0) mkdirSync(d);
    const off = (i * 4099) % (block.length - SMALL_SIZE);
    block.copy(buf, 0, off, off + SMALL_SIZE);
    buf.writeUInt32LE(i, 0);
    writeFileSync(join(d, `f${String(i % PER_DIR).padStart(4, "0")}.dat`), buf);
  }
  log(`wrote ${SMALL_FILES} × 4 KiB in ${(now() - t).toFixed(1)} s`);
  return { largeFiles, largeBytes: perFile * LARGE_FILES };
}

/** Every regular file under dir (sorted walk), skipping hoard's reserved names. */
function walk(dir: string, out: string[] = []): string[] {
  const ents = readdirSync(dir, { withFileTypes: true });
  for (const e of ents) {
    if (e.name === ".hoard-volume" || e.name === ".hoard") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Read every byte of every file once, so hoard and b3sum both start from a warm page cache. */
function warm(files: string[]): void {
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const p of files) {
    const fd = openSync(p, "r");
    while (readSync(fd, buf, 0, buf.length, null) > 0);
    closeSync(fd);
  }
}

// ---------- peers ----------

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
/** Run argv (under /usr/bin/time when there is one): wall seconds, user+sys CPU seconds and peak RSS of it and its children. */
function timed(argv: string[], env: Record<string, string> = {}, cwd?: string): { seconds: number; cpu?: number; rss?: number; status: number | null; stdout: string; stderr: string } {
  const out = join(root, "time.txt");
  const full = TIME ? [TIME, "-f", "%U %S %M", "-o", out, ...argv] : argv;
  const t = now();
  const r = spawnSync(full[0]!, full.slice(1), { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 30, cwd });
  const seconds = now() - t;
  let cpu: number | undefined;
  let rss: number | undefined;
  if (TIME && existsSync(out)) {
    const [u, sy, m] = readFileSync(out, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
    if (Number.isFinite(u) && Number.isFinite(sy)) cpu = u! + sy!;
    if (Number.isFinite(m)) rss = m! * 1024;
  }
  return { seconds, cpu, rss, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sh(script: string, env: Record<string, string> = {}): { seconds: number; cpu?: number; stdout: string } {
  const r = timed(["sh", "-c", script], env);
  if (r.status !== 0) throw new Error(`peer command failed (${r.status}): ${script}\n${r.stderr}`);
  return { seconds: r.seconds, cpu: r.cpu, stdout: r.stdout };
}

function best<T extends { seconds: number }>(n: number, f: () => T): T {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------- hoard ----------

type Case = { name: string; bytes: number; files: number; seconds: number; cpu?: number; rss?: number; peer?: { name: string; seconds: number; cpu?: number }; target?: { kind: "ratio" | "files/s"; min: number }; note?: string };

function hoardCmd(): string[] {
  if (process.env.HOARD_BIN) return [process.env.HOARD_BIN];
  return [process.execPath, join(REPO, "src/cli/main.ts")];
}

function cli(cfg: string, db: string, args: string[], show = false): { seconds: number; cpu?: number; rss?: number; json: unknown } {
  const [cmd, ...pre] = hoardCmd();
  const r = timed([cmd!, ...pre, "--config", cfg, "--db", db, ...args], {}, root);
  const seconds = r.seconds;
  if (r.status !== 0) {
    throw new Error(`hoard ${args.join(" ")} exited ${r.status}\nstdout: ${r.stdout?.slice(0, 2000)}\nstderr: ${r.stderr?.slice(0, 4000)}`);
  }
  let json: unknown = undefined;
  if (args.includes("--json")) {
    try {
      json = JSON.parse(r.stdout);
    } catch {
      throw new Error(`hoard ${args.join(" ")} --json printed something that is not one JSON document:\n${r.stdout.slice(0, 2000)}`);
    }
  }
  if (show) log(`hoard ${args.join(" ")}: ${seconds.toFixed(3)} s, cpu ${r.cpu?.toFixed(2) ?? "?"} s, peak RSS ${r.rss ? (r.rss / 1e6).toFixed(0) : "?"} MB`);
  return { seconds, cpu: r.cpu, rss: r.rss, json };
}

/** When the index result carries counts, they must show the work the case claims to measure. */
function checkCounts(json: unknown, files: number, hashedBytes: number): void {
  const c = (json as { counts?: { files?: number; hashed_bytes?: number } } | undefined)?.counts;
  if (!c) return;
  if (c.files !== undefined && c.files !== files) throw new Error(`index reported ${c.files} files, expected ${files}`);
  if (c.hashed_bytes !== undefined && c.hashed_bytes !== hashedBytes) throw new Error(`index reported ${c.hashed_bytes} hashed bytes, expected ${hashedBytes}`);
}

/** A short summary of an index result for the log (whatever counters it carries). */
function summarise(json: unknown): string {
  const s = JSON.stringify(json);
  return s.length > 400 ? s.slice(0, 400) + "…" : s;
}

// ---------- report ----------

function report(cases: Case[]): boolean {
  const rows = [["case", "bytes", "files", "seconds", "cpu s", "RSS MB", "MB/s", "files/s", "peer", "peer s", "peer cpu", "ratio", "target", "result"]];
  let ok = true;
  for (const c of cases) {
    const mbs = c.bytes / 1e6 / c.seconds;
    const fps = c.files / c.seconds;
    const ratio = c.peer ? c.peer.seconds / c.seconds : undefined;
    const pass = !c.target ? undefined : c.target.kind === "ratio" ? ratio !== undefined && ratio >= c.target.min : fps >= c.target.min;
    if (pass === false) ok = false;
    rows.push([
      c.name,
      String(c.bytes),
      String(c.files),
      c.seconds.toFixed(3),
      c.cpu?.toFixed(2) ?? "-",
      c.rss ? (c.rss / 1e6).toFixed(0) : "-",
      mbs.toFixed(0),
      fps.toFixed(0),
      c.peer?.name ?? "-",
      c.peer ? c.peer.seconds.toFixed(3) : "-",
      c.peer?.cpu?.toFixed(2) ?? "-",
      ratio !== undefined ? `${ratio.toFixed(2)}×` : "-",
      !c.target ? "(info)" : c.target.kind === "ratio" ? `≥ ${c.target.min}× ${c.peer?.name}` : `≥ ${c.target.min} files/s`,
      pass === undefined ? "-" : pass ? "PASS" : "FAIL",
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((x, i) => (i === 0 || i === 8 || i >= 12 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join("  "));
  for (const c of cases) if (c.note) console.log(`  ${c.name}: ${c.note}`);
  return ok;
}

// ---------- main ----------

async function main() {
  const b3 = spawnSync("b3sum", ["--version"], { encoding: "utf8" });
  if (b3.status !== 0) throw new Error("b3sum not found on PATH (apt-get install b3sum): it is the peer this benchmark compares against");
  log(`mode ${ONLY_HASH ? "--only-hash (library, in-process)" : "CLI"}; ${b3.stdout.trim()}; bun ${process.versions.bun ?? "?"}; ${cpus().length} cores; blake3 backend ${blake3Backend().name}; tree ${root}`);

  const { largeFiles, largeBytes } = generate();
  const smallFiles = walk(smallDir);
  if (smallFiles.length !== SMALL_FILES) throw new Error(`walk found ${smallFiles.length} small files, expected ${SMALL_FILES}`);
  let t = now();
  warm(largeFiles);
  warm(smallFiles);
  log(`warm-up read of both trees: ${(now() - t).toFixed(1)} s`);

  // Peers, same trees, same run, warm cache. b3sum prints "<hex>  <path>" per file.
  const largeArgs = largeFiles.map(q).join(" ");
  const b3Large = best(REPEAT, () => sh(`b3sum ${largeArgs}`));
  const b3Digests = new Map(b3Large.stdout.trim().split("\n").map((l) => [l.slice(66), l.slice(0, 64)] as const));
  const smallFind = `find ${q(smallDir)} -type f ! -path '*/.hoard*' -print0`;
  const b3Small = best(REPEAT, () => sh(`${smallFind} | xargs -0 b3sum | wc -l`));
  if (Number(b3Small.stdout.trim()) !== SMALL_FILES) throw new Error(`b3sum hashed ${b3Small.stdout.trim()} small files, expected ${SMALL_FILES}`);
  const findStat = best(REPEAT, () => sh(`find ${q(smallDir)} -type f ! -path '*/.hoard*' -printf '%s %T@ %i\\n' | wc -l`));
  log(`b3sum: large ${b3Large.seconds.toFixed(3)} s, small ${b3Small.seconds.toFixed(3)} s; find -printf small ${findStat.seconds.toFixed(3)} s`);

  const cases: Case[] = [];
  const largeName = `(a) ${LARGE_FILES} large files`;
  const smallName = `(b) ${SMALL_FILES} × 4 KiB`;
  const shallowName = "(c) --shallow re-index of (b)";

  if (ONLY_HASH) {
    const checkDigests = (rs: FileHash[]) =>
      largeFiles.forEach((p, i) => {
        if (rs[i]!.blake3 !== b3Digests.get(p)) throw new Error(`digest mismatch with b3sum for ${p}`);
      });
    // (a) hashFile over each large file, on this thread only (for information).
    const a1 = await bestAsync(REPEAT, async () => {
      const t0 = now();
      const rs: FileHash[] = [];
      for (const p of largeFiles) rs.push(await hashFile(p));
      return { seconds: now() - t0, rs };
    });
    checkDigests(a1.rs);
    cases.push({ name: `${largeName}, 1 thread`, bytes: largeBytes, files: largeFiles.length, seconds: a1.seconds, peer: { name: "b3sum", seconds: b3Large.seconds }, note: "hashFile on the calling thread; digests equal b3sum's" });
    // (a) through the hash pool (worker threads), including the pool's start-up.
    const a2 = await bestAsync(REPEAT, async () => {
      const t0 = now();
      const pool = createHashPool(defaultPoolSize());
      const rs = await Promise.all(largeFiles.map((p) => pool.hashFile(p)));
      const workers = pool.size;
      await pool.close();
      return { seconds: now() - t0, rs, workers };
    });
    checkDigests(a2.rs);
    cases.push({ name: `${largeName}, pool(${a2.workers})`, bytes: largeBytes, files: largeFiles.length, seconds: a2.seconds, peer: { name: "b3sum", seconds: b3Large.seconds }, target: { kind: "ratio", min: 0.8 }, note: `createHashPool(${a2.workers}) incl. worker start-up; digests equal b3sum's` });

    // (b) walk + hashFile over every small file.
    const recorded = new Map<string, FileHash>();
    const b = await bestAsync(REPEAT, async () => {
      const t0 = now();
      const files = walk(smallDir);
      for (const p of files) recorded.set(p, await hashFile(p));
      return { seconds: now() - t0 };
    });
    cases.push({ name: smallName, bytes: SMALL_FILES * SMALL_SIZE, files: SMALL_FILES, seconds: b.seconds, peer: { name: "b3sum", seconds: b3Small.seconds }, target: { kind: "ratio", min: 0.5 }, note: "walk + hashFile, single thread, no database" });

    // (c) walk + lstat, compared with what (b) recorded: the cost floor of a shallow re-index.
    const c = best(REPEAT, () => {
      const t0 = now();
      let same = 0;
      for (const p of walk(smallDir)) {
        const st = lstatSync(p, { bigint: true });
        const r = recorded.get(p);
        if (r && BigInt(r.size) === st.size && r.mtimeNs === st.mtimeNs && r.ino === st.ino) same++;
      }
      if (same !== SMALL_FILES) throw new Error(`shallow pass saw ${same} unchanged files, expected ${SMALL_FILES}`);
      return { seconds: now() - t0 };
    });
    cases.push({ name: shallowName, bytes: 0, files: SMALL_FILES, seconds: c.seconds, peer: { name: "find -printf", seconds: findStat.seconds }, target: { kind: "files/s", min: 100_000 }, note: "walk + lstat + compare, no database" });
  } else {
    // Each repetition of (a) and (b) is a first index into a fresh config + DB (the volume
    // markers of the previous repetition are removed), so every one hashes every file.
    let rep = 0;
    const fresh = () => {
      const d = join(root, `hoard-${++rep}`);
      mkdirSync(d);
      for (const t of [largeDir, smallDir]) {
        rmSync(join(t, ".hoard-volume"), { force: true });
        rmSync(join(t, ".hoard"), { recursive: true, force: true });
      }
      const cfg = join(d, "hoard.toml");
      const db = join(d, "hoard.db");
      cli(cfg, db, ["init"]);
      cli(cfg, db, ["volume", "add", "bench-large", largeDir]);
      cli(cfg, db, ["volume", "add", "bench-small", smallDir]);
      return { cfg, db };
    };
    let last = { cfg: "", db: "" };
    const a = best(REPEAT, () => {
      last = fresh();
      const r = cli(last.cfg, last.db, ["index", "bench-large", "--json"], true);
      log(`  → ${summarise(r.json)}`);
      checkCounts(r.json, largeFiles.length, largeBytes);
      return r;
    });
    cases.push({ name: largeName, bytes: largeBytes, files: largeFiles.length, seconds: a.seconds, cpu: a.cpu, rss: a.rss, peer: { name: "b3sum", seconds: b3Large.seconds, cpu: b3Large.cpu }, target: { kind: "ratio", min: 0.8 }, note: "whole CLI process: start-up, config, DB, walk, hash, commit" });
    const b = best(REPEAT, () => {
      last = fresh();
      const r = cli(last.cfg, last.db, ["index", "bench-small", "--json"], true);
      log(`  → ${summarise(r.json)}`);
      checkCounts(r.json, SMALL_FILES, SMALL_FILES * SMALL_SIZE);
      return r;
    });
    cases.push({ name: smallName, bytes: SMALL_FILES * SMALL_SIZE, files: SMALL_FILES, seconds: b.seconds, cpu: b.cpu, rss: b.rss, peer: { name: "b3sum", seconds: b3Small.seconds, cpu: b3Small.cpu }, target: { kind: "ratio", min: 0.5 } });
    const c = best(REPEAT, () => {
      const r = cli(last.cfg, last.db, ["index", "bench-small", "--shallow", "--json"], true);
      log(`  → ${summarise(r.json)}`);
      checkCounts(r.json, SMALL_FILES, 0);
      return r;
    });
    cases.push({ name: shallowName, bytes: 0, files: SMALL_FILES, seconds: c.seconds, cpu: c.cpu, rss: c.rss, peer: { name: "find -printf", seconds: findStat.seconds, cpu: findStat.cpu }, target: { kind: "files/s", min: 100_000 } });
  }

  const ok = report(cases);
  console.log(ok ? "all targets met" : "some targets missed");
}

async function bestAsync<T extends { seconds: number }>(n: number, f: () => Promise<T>): Promise<T> {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = await f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
} finally {
  cleanup();
}
