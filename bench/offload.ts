// Offload benchmark: the cost of live confirmation. On BENCH_OFFLOAD_FILES (100000) small files
// synced to an fs destination, times `offload --dry-run .` (the offline gate alone) against
// `offload --dry-run --confirm presence .` (the same, plus every file confirmed live at the
// destination), and for information `--confirm content` and a real offload; prints the ratios.
//
// Usage: bun bench/offload.ts            (bun run bench:offload)
// Target: presence confirmation adds at most 1.5× the plain dry run's time.
// Env: BENCH_DIR (parent of the temp tree), BENCH_REPEAT (3: best of N), HOARD_BIN (a compiled binary).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const envInt = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const FILES = envInt("BENCH_OFFLOAD_FILES", 100_000);
const REPEAT = Math.max(1, envInt("BENCH_REPEAT", 3));
const REPO = resolve(import.meta.dir, "..");
const HOARD = process.env.HOARD_BIN ? [process.env.HOARD_BIN] : [process.execPath, join(REPO, "src/cli/main.ts")];
const log = (...a: unknown[]) => console.error("[bench]", ...a);
const root = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), "hoard-bench-offload-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

function run(cmd: string[], ok = [0]): number {
  const t = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 30 });
  const s = (performance.now() - t) / 1000;
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  return s;
}

const vol = join(root, "vol");
const dest = join(root, "dest");
log(`generating ${FILES} files of 1 KiB`);
const block = randomBytes(1024 * 1000);
for (let d = 0; d < Math.ceil(FILES / 1000); d++) {
  mkdirSync(join(vol, `d${d}`), { recursive: true });
  for (let i = 0; i < 1000 && d * 1000 + i < FILES; i++) {
    const b = Buffer.from(block.subarray(i * 1024, (i + 1) * 1024));
    b.writeUInt32LE(d, 0);
    writeFileSync(join(vol, `d${d}`, `f${i}`), b);
  }
}
const cfg = join(root, "config.toml");
writeFileSync(cfg, `node = "bench"\n\n[volumes.v]\npath = ${JSON.stringify(vol)}\nsync_to = ["d"]\noffload_requires = ["d"]\n\n[destinations.d]\ntype = "fs"\npath = ${JSON.stringify(dest)}\n`);
const h = (args: string[], ok?: number[]) => run([...HOARD, "--config", cfg, "--db", join(root, "hoard.db"), ...args], ok);
log("volume add, index, dest init, sync (not timed)");
h(["volume", "add", "v", vol]);
h(["index", "v"]);
h(["dest", "init", "d"]);
h(["sync", "v"]);

const best = (f: () => number) => Math.min(...Array.from({ length: REPEAT }, f));
const plain = best(() => h(["offload", "v", ".", "--dry-run"]));
const presence = best(() => h(["offload", "v", ".", "--dry-run", "--confirm", "presence"]));
const content = best(() => h(["offload", "v", ".", "--dry-run", "--confirm", "content"]));
const real = h(["offload", "v", "."]);
const added = (presence - plain) / plain;
const rows = [
  `offload of ${FILES} files (fs destination, best of ${REPEAT})`,
  `  --dry-run (offline gate only)          ${plain.toFixed(2)}s`,
  `  --dry-run --confirm presence           ${presence.toFixed(2)}s  (${(presence / plain).toFixed(2)}× the dry run; adds ${added.toFixed(2)}×, target ≤ 1.5×  ${added <= 1.5 ? "PASS" : "FAIL"})`,
  `  --dry-run --confirm content  (info)    ${content.toFixed(2)}s  (${(content / plain).toFixed(2)}× the dry run)`,
  `  real offload, presence       (info)    ${real.toFixed(2)}s  (${(real / plain).toFixed(2)}× the dry run; includes each file's last check and unlink)`,
];
console.log(rows.join("\n"));
