// Test helper process (not a test): swaps two directory entries atomically with renameat2(RENAME_EXCHANGE)
// in a tight loop, for at least MIN_MS and until SIGTERM, then leaves them as they were. Prints "ready", then the count.
// Usage: bun swapper.ts PATH_A PATH_B MIN_MS [AS_IS_US SWAPPED_US]: how long (busy-waiting, microseconds) each
// state lasts; by default none (swap back to back). A short as-is and a long swapped state is the classic
// check-then-act attack: the check sees the real directory, the act that follows goes through the link.

import { dlopen, FFIType } from "bun:ffi";

const [a, b, minMs, asIsUs, swappedUs] = process.argv.slice(2);
const holdNs = [BigInt(Math.round(Number(asIsUs ?? 0) * 1000)), BigInt(Math.round(Number(swappedUs ?? 0) * 1000))];
const hold = (ns: bigint) => {
  if (ns === 0n) return;
  const end = process.hrtime.bigint() + ns;
  while (process.hrtime.bigint() < end);
};
if (!a || !b) throw new Error("usage: swapper.ts PATH_A PATH_B MIN_MS");
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const libc = dlopen("libc.so.6", {
  renameat2: {
    args: [FFIType.i32, FFIType.cstring, FFIType.i32, FFIType.cstring, FFIType.u32],
    returns: FFIType.i32,
  },
});
const pa = Buffer.from(`${a}\0`);
const pb = Buffer.from(`${b}\0`);
const swap = () => {
  if (libc.symbols.renameat2(AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE) !== 0) throw new Error("renameat2(RENAME_EXCHANGE) failed");
};

let stop = false;
process.on("SIGTERM", () => (stop = true));
const until = Date.now() + Number(minMs ?? 2000);
let n = 0;
console.log("ready");
// swap in bursts, giving the event loop a turn so SIGTERM is seen
while (!stop || Date.now() < until) {
  for (let i = 0; i < 2000; i++) {
    hold(holdNs[n % 2]!); // n even: as is; odd: swapped
    swap();
    n++;
  }
  await new Promise((r) => setImmediate(r));
}
if (n % 2 === 1) {
  swap();
  n++;
}
console.log(String(n));
