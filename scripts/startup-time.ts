// Measures the compiled binary against the source: file size and `--version` start-up time
// (runs interleaved; median wall and CPU time). `bun scripts/startup-time.ts [N]`; builds dist/hoard first.

import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv[2] ?? 20);
const bun = process.execPath;

const build = Bun.spawnSync([bun, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
if (build.exitCode !== 0) throw new Error(`build failed:\n${build.stderr.toString()}`);
const BIN = join(ROOT, "dist/hoard");

const cands: [string, string[]][] = [
  ["dist/hoard --version", [BIN, "--version"]],
  ["bun src/cli/main.ts --version", [bun, join(ROOT, "src/cli/main.ts"), "--version"]],
  ["deno run -A src/cli/main.ts --version", [join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "src/cli/main.ts"), "--version"]],
];
const wall = cands.map(() => [] as number[]);
const cpu = cands.map(() => [] as number[]);
for (const [, cmd] of cands) Bun.spawnSync(cmd, { cwd: "/" }); // warm caches
for (let i = 0; i < N; i++)
  cands.forEach(([name, cmd], k) => {
    const t = performance.now();
    const r = Bun.spawnSync(cmd, { cwd: "/", stdout: "pipe", stderr: "pipe" });
    wall[k]!.push(performance.now() - t);
    if (r.exitCode !== 0) throw new Error(`${name} exited ${r.exitCode}: ${r.stderr.toString()}`);
    const u = r.resourceUsage?.cpuTime;
    if (u) cpu[k]!.push(Number(u.user + u.system) / 1000);
  });
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const size = statSync(BIN).size;
console.log(`dist/hoard: ${size} bytes (${(size / 1024 / 1024).toFixed(1)} MiB)`);
cands.forEach(([name], k) => console.log(`${name.padEnd(40)} median of ${N}: wall ${median(wall[k]!).toFixed(1)} ms, cpu ${median(cpu[k]!).toFixed(1)} ms`));
