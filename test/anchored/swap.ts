// Test helper (not a test): starts swapper.ts as a child process and stops it, for the race tests that
// swap a directory with a symlink while hoard works.

import { spawn } from "node:child_process";
import { join } from "node:path";

/**
 * Start swapping A and B (at least minMs; each state held holdUs microseconds). Resolves once the
 * swapper runs, with a stop() that resolves to the number of swaps made.
 */
export async function startSwapper(a: string, b: string, minMs = 2000, holdUs: [number, number] = [0, 0]): Promise<{ stop(): Promise<number> }> {
  const c = spawn(process.execPath, [join(import.meta.dir, "swapper.ts"), a, b, String(minMs), ...holdUs.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  c.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => c.on("close", r));
  await new Promise<void>((resolve, reject) => {
    c.stdout.on("data", (d) => {
      out += d;
      if (out.includes("ready")) resolve();
    });
    exited.then(() => reject(new Error(`swapper exited early: ${err}`)));
  });
  return {
    async stop() {
      c.kill("SIGTERM");
      const rc = await exited;
      if (rc !== 0) throw new Error(`swapper failed (${rc}): ${err}`);
      return Number(out.trim().split("\n").pop());
    },
  };
}
