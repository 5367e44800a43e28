// Named crash checkpoints for the crash-injection tests: `checkpoint(name)` kills the process with
// SIGKILL (no cleanup, like a power cut) when HOARD_TEST_CRASH_AT names it; otherwise it does nothing.

/**
 * HOARD_TEST_CRASH_AT="name" dies at the first pass through checkpoint `name`;
 * "name:N" dies at the N-th pass (1-based). Test-only: unset in normal use.
 */
const armed = (() => {
  const v = process.env.HOARD_TEST_CRASH_AT;
  if (!v) return undefined;
  const m = /^(.*?)(?::(\d+))?$/.exec(v)!;
  return { name: m[1]!, at: m[2] ? Number(m[2]) : 1, seen: 0 };
})();

/** Every checkpoint name in the code, so the crash harness can walk them all. */
export const CHECKPOINTS = [
  "offload.confirm",
  "offload.batch",
  "offload.unlink",
  "restore.fetch",
  "restore.rename",
  "sync.push",
  "sync.record",
  "index.walk",
  "index.record",
  "dest-init.marker",
] as const;
export type Checkpoint = (typeof CHECKPOINTS)[number];

export function checkpoint(name: Checkpoint): void {
  if (armed === undefined || armed.name !== name) return;
  if (++armed.seen >= armed.at) process.kill(process.pid, "SIGKILL");
}
