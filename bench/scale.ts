// Scale benchmark: N files of 48 bytes in 1,000 directories (default 1,000,000), every everyday
// step timed with its peak RSS, the DB size per file, and `find -printf` / `rclone copy` as peers.
//
// Usage: bun bench/scale.ts              (bun run bench:scale; `npm run build` first to time dist/hoard)
// Env: BENCH_SCALE_FILES (1000000; "100000,1000000" runs both sizes and checks linear growth: the
//      larger run's time per step within 12× × (its size / the smaller size ÷ 10) of the smaller's),
//      BENCH_DIR (parent of the temp tree), HOARD_BIN (the binary; default dist/hoard when built,
//      else `bun src/cli/main.ts`).
// Targets (issue 17, at 1M files; below 1M the time is projected linearly to 1M and marked so):
//      status and status --check ≤ 1 s, offload --dry-run ≤ 2 s, no-change sync ≤ 1.5× a no-change
//      rclone copy, DB ≤ 200 bytes per file, peak RSS of every step ≤ 500 MB and flat (with two sizes,
//      the larger's within 1.5× of the smaller's), shallow index ≥ 100k files/s.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SIZES = (process.env.BENCH_SCALE_FILES || "1000000").split(",").map((s) => Number(s.trim())).filter((n) => n > 0).sort((a, b) => a - b);
const REPO = resolve(import.meta.dir, "..");
const BUILT = join(REPO, "dist/hoard");
const HOARD = process.env.HOARD_BIN ? [process.env.HOARD_BIN] : existsSync(BUILT) ? [BUILT] : [process.execPath, join(REPO, "src/cli/main.ts")];
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const DIRS = 1000;
const MB = 1 << 20;
const log = (...a: unknown[]) => console.error("[bench]", ...a);
const root = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), "hoard-bench-scale-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

interface Step {
  s: number;
  /** Peak resident set size in bytes (null when /usr/bin/time is not there). */
  rss: number | null;
}

/** Run a command under /usr/bin/time: wall seconds and the child's peak RSS. */
function measure(cmd: string[], ok = [0]): Step {
  const rssFile = join(root, "rss.txt");
  const argv = TIME ? [TIME, "-f", "%M", "-o", rssFile, ...cmd] : cmd;
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 30 });
  const s = (performance.now() - t) / 1000;
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  let rss: number | null = null;
  if (TIME) {
    const kb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
    rss = Number.isFinite(kb) ? kb * 1024 : null;
  }
  return { s, rss };
}

/** N files of 48 bytes (distinct content) in DIRS directories. */
function makeTree(dir: string, n: number) {
  const per = Math.ceil(n / DIRS);
  for (let d = 0; d < DIRS && d * per < n; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let i = 0; i < per && d * per + i < n; i++) writeFileSync(join(dir, `d${d}`, `f${i}`), `hoard scale bench file ${String(d).padStart(4, "0")}/${String(i).padStart(12, "0")}\n`.slice(0, 47) + "\n");
  }
}

type Row = { step: string; s: number; rss: number | null; note?: string; target?: { kind: "max_s" | "max_ratio" | "min_rate"; value: number; peer?: number } };

function runSize(n: number): Row[] {
  const dir = join(root, `n${n}`);
  const vol = join(dir, "vol");
  const dest = join(dir, "dest");
  const db = join(dir, "hoard.db");
  log(`generating ${n} files of 48 bytes in ${DIRS} directories`);
  makeTree(vol, n);
  const cfg = join(dir, "config.toml");
  writeFileSync(cfg, `node = "bench"\n\n[volumes.v]\npath = ${JSON.stringify(vol)}\nsync_to = ["d"]\noffload_requires = ["d"]\n\n[destinations.d]\ntype = "fs"\npath = ${JSON.stringify(dest)}\nreverify_budget = "0"\n`);
  const h = (args: string[], ok?: number[]) => measure([...HOARD, "--config", cfg, "--db", db, ...args], ok);
  const rows: Row[] = [];
  const step = (name: string, args: string[], extra: Partial<Row> = {}, ok?: number[]) => {
    log(name);
    const m = h(args, ok);
    rows.push({ step: name, ...m, ...extra });
    return m;
  };
  h(["volume", "add", "v", vol]);
  startup = Math.min(...[0, 1, 2].map(() => measure([...HOARD, "--version"]).s));
  // peers first (page cache warm for everyone after the generation)
  log("find -printf");
  const find = measure(["find", vol, "-printf", "%p %s %T@\n"]);
  log("rclone copy (first)");
  const rcDst = join(dir, "rclone");
  const rcFirst = measure(["rclone", "copy", vol, rcDst, "--exclude", "/.hoard-volume"]);
  log("rclone copy (no change)");
  const rcNoChange = measure(["rclone", "copy", vol, rcDst, "--exclude", "/.hoard-volume"]);
  rmSync(rcDst, { recursive: true, force: true });
  step("index", ["index", "v"]);
  step("index --shallow", ["index", "v", "--shallow"], { target: { kind: "min_rate", value: 100_000 } });
  h(["dest", "init", "d"]);
  step("first sync (fs)", ["sync", "v"], { target: { kind: "max_ratio", value: 1.5, peer: rcFirst.s }, note: `rclone copy ${rcFirst.s.toFixed(2)}s` });
  step("no-change sync", ["sync", "v"], { target: { kind: "max_ratio", value: 1.5, peer: rcNoChange.s }, note: `rclone copy ${rcNoChange.s.toFixed(2)}s` });
  step("offload --dry-run .", ["offload", "v", ".", "--dry-run"], { target: { kind: "max_s", value: 2 } });
  step("offload --dry-run --confirm presence .", ["offload", "v", ".", "--dry-run", "--confirm", "presence"], { note: "live confirmation" });
  step("status", ["status"], { target: { kind: "max_s", value: 1 } });
  step("status --check", ["status", "--check"], { target: { kind: "max_s", value: 1 } });
  // something to restore: one directory offloaded for real (not a timed step)
  step("offload d0 (real, 1/1000 of the tree)", ["offload", "v", "d0"], { note: "live confirmation + unlink" });
  step("restore --dry-run .", ["restore", "v", ".", "--dry-run"]);
  step("restore d0 (real)", ["restore", "v", "d0"]);
  rows.push({ step: "find -printf (peer)", ...find });
  rows.push({ step: "rclone copy, first (peer)", ...rcFirst });
  rows.push({ step: "rclone copy, no change (peer)", ...rcNoChange });
  const dbBytes = [db, `${db}-wal`].reduce((t, p) => t + (existsSync(p) ? statSync(p).size : 0), 0);
  rows.push({ step: "DB bytes per file", s: dbBytes / n, rss: null, note: `${(dbBytes / MB).toFixed(1)} MB`, target: { kind: "max_s", value: 200 } });
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

const verdict = (r: Row, n: number): string => {
  if (!r.target) return "";
  const t = r.target;
  if (r.step === "DB bytes per file") return r.s <= t.value ? "PASS" : "FAIL";
  if (t.kind === "max_ratio") return r.s / t.peer! <= t.value ? "PASS" : "FAIL";
  if (t.kind === "min_rate") return n / r.s >= t.value ? "PASS" : "FAIL";
  // time targets hold at 1M files: a smaller run's time beyond start-up is projected linearly
  const projected = n < 1_000_000 ? startup + Math.max(0, r.s - startup) * (1_000_000 / n) : r.s;
  return (projected <= t.value ? "PASS" : "FAIL") + (n < 1_000_000 ? ` (${projected.toFixed(2)}s projected to 1M)` : "");
};
const targetText = (r: Row): string => {
  const t = r.target;
  if (!t) return "";
  if (r.step === "DB bytes per file") return `≤ ${t.value} B`;
  if (t.kind === "max_ratio") return `≤ ${t.value}× peer (${(r.s / t.peer!).toFixed(2)}×)`;
  if (t.kind === "min_rate") return `≥ ${t.value / 1000}k files/s`;
  return `≤ ${t.value} s at 1M`;
};

const results = new Map<number, Row[]>();
/** The binary's own start-up time (best of 3), left out when a smaller run's time is projected to 1M. */
let startup = 0;
const out: string[] = [`hoard: ${HOARD.join(" ")}`];
for (const n of SIZES) {
  const rows = runSize(n);
  results.set(n, rows);
  out.push(`\n${n} files of 48 bytes in ${DIRS} directories (fs destination)`);
  out.push(`(start-up of the binary: ${startup.toFixed(2)}s)`);
  out.push(`${"step".padEnd(40)} ${"time".padStart(9)}  ${"target".padEnd(28)} ${"verdict".padEnd(36)} ${"peak RSS".padStart(9)} (≤ 500 MB)`);
  for (const r of rows) {
    const time = r.step === "DB bytes per file" ? `${r.s.toFixed(0)} B` : `${r.s.toFixed(2)}s`;
    const rss = r.rss === null ? "" : `${`${(r.rss / MB).toFixed(0)} MB`.padStart(9)} ${r.step.includes("(peer)") ? "" : r.rss <= 500 * MB ? "PASS" : "FAIL"}`;
    out.push(`${r.step.padEnd(40)} ${time.padStart(9)}  ${targetText(r).padEnd(28)} ${verdict(r, n).padEnd(36)} ${rss}${r.note ? `  (${r.note})` : ""}`);
  }
}
if (SIZES.length >= 2) {
  const [a, b] = [SIZES[0]!, SIZES[SIZES.length - 1]!];
  const limit = 12 * (b / a / 10); // 12× for 100k → 1M
  out.push(`\nlinear growth ${a} → ${b} files: each step within ${limit.toFixed(1)}×`);
  const small = new Map(results.get(a)!.map((r) => [r.step, r]));
  for (const r of results.get(b)!) {
    const s = small.get(r.step);
    if (!s || r.step === "DB bytes per file" || r.step.includes("(peer)")) continue;
    const g = r.s / s.s;
    // memory must not grow with the file count: the larger run's peak within 1.5× of the smaller's
    const m = r.rss !== null && s.rss !== null ? `  RSS ${(r.rss / s.rss).toFixed(2)}× ${r.rss / s.rss <= 1.5 ? "PASS" : "FAIL"} (flat: ≤ 1.5×)` : "";
    out.push(`${r.step.padEnd(40)} ${g.toFixed(2)}× ${g <= limit ? "PASS" : "FAIL"}${m}`);
  }
}
console.log(out.join("\n"));
