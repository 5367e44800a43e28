// Measures the compiled binary against the source: file size and `--version` start-up time
// (median of N runs each, also under Deno). `bun scripts/startup-time.ts [N]`; builds dist/hoard first.

import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv[2] ?? 20);
const bun = process.execPath;

const build = spawnSync(bun, ["run", "build"], { cwd: ROOT, encoding: "utf8" });
if (build.status !== 0) throw new Error(`build failed:\n${build.stderr}`);
const BIN = join(ROOT, "dist/hoard");

function median(cmd: string[]): number {
  const times: number[] = [];
  spawnSync(cmd[0]!, cmd.slice(1)); // warm the page cache
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", cwd: "/" });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(N / 2)]!;
}

const rows: [string, number][] = [
  ["dist/hoard --version", median([BIN, "--version"])],
  ["bun src/cli/main.ts --version", median([bun, join(ROOT, "src/cli/main.ts"), "--version"])],
  ["deno run -A src/cli/main.ts --version", median([join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "src/cli/main.ts"), "--version"])],
];
const size = statSync(BIN).size;
console.log(`dist/hoard: ${size} bytes (${(size / 1024 / 1024).toFixed(1)} MiB)`);
for (const [name, ms] of rows) console.log(`${name.padEnd(40)} median of ${N}: ${ms.toFixed(1)} ms`);
