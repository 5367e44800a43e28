// hoard's child processes as process groups: the ones still running (none outlives hoard), whether a
// group is alive, and stopping groups (SIGTERM, a grace period, SIGKILL) on timeout or interruption.

import { readdirSync, readFileSync } from "node:fs";

type Child = { pid?: number; kill(sig?: any): unknown };

/** Children still running, so none outlives hoard (see killStrays). */
export const live = new Set<Child>();

export function killGroup(child: Child): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/**
 * Kill every child still running (its whole process group) and return how many there were. The
 * CLI calls this when a command is done, so work started speculatively (a handler's warm-up
 * listing for a push that was then refused) neither keeps hoard waiting nor outlives it.
 */
export function killStrays(): number {
  const n = live.size;
  for (const c of live) killGroup(c);
  live.clear();
  return n;
}
process.on("exit", () => void killStrays());

/** The fields of /proc/PID/stat after the command name: state, ppid, pgrp, … (undefined once gone). */
function procStat(name: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${name}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // exited meanwhile
  }
}

function procNames(): string[] | undefined {
  try {
    return readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
}

/** The process groups (or single processes) of hoard's children: those it tracks, and on Linux every direct child /proc shows. */
function childTargets(): number[] {
  const out = new Set<number>();
  for (const c of live) if (c.pid) out.add(-c.pid); // spawned detached: each leads its own group
  for (const name of procNames() ?? []) {
    const f = procStat(name);
    if (!f || Number(f[1]) !== process.pid || f[0] === "Z" || f[0] === "X") continue;
    const pid = Number(name);
    // a child leading its own group (hooks, tools) is stopped with its whole group; one in hoard's group alone
    out.add(Number(f[2]) === pid ? -pid : pid);
  }
  return [...out];
}

const signalled = (target: number, sig: NodeJS.Signals): boolean => {
  try {
    process.kill(target, sig);
    return true;
  } catch {
    return false;
  }
};

/**
 * Is anything of this target (a process group when negative) still alive? Zombies (dead, not yet
 * reaped) do not count where /proc tells; without /proc any answer to kill(target, 0) does.
 */
export function processAlive(target: number): boolean {
  try {
    process.kill(target, 0);
  } catch (e: any) {
    if (e?.code !== "EPERM") return false;
  }
  const names = procNames();
  if (!names) return true;
  for (const name of names) {
    const f = procStat(name);
    const hit = f && (target < 0 ? Number(f[2]) === -target : Number(name) === target);
    if (hit && f[0] !== "Z" && f[0] !== "X") return true;
  }
  return false;
}

/** Block this thread for `ms` (nothing else of hoard runs meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Stop every child process of hoard (rclone, kopia, restic, hooks) with its process group: SIGTERM,
 * up to `graceMs` for them to go (a tool may clean up its partial files), then SIGKILL. Synchronous:
 * for an interruption, so no promise of hoard's resumes while its children die. Returns how many
 * processes or groups were signalled.
 */
export function stopChildren(graceMs = 2000): number {
  const targets = childTargets().filter((t) => signalled(t, "SIGTERM"));
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && targets.some(processAlive)) sleepSync(25);
  for (const t of targets) if (processAlive(t)) signalled(t, "SIGKILL");
  for (const c of live) killGroup(c);
  live.clear();
  return targets.length;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Stop one process group without blocking: SIGTERM, up to `graceMs` for it to go, SIGKILL, then wait (bounded) until it is gone. */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  const alive = () => pgid > 1 && processAlive(-pgid);
  signalled(-pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive()) await sleep(25);
  if (alive()) signalled(-pgid, "SIGKILL");
  for (let i = 0; i < 200 && alive(); i++) await sleep(25);
}

/**
 * A deadline for the process group `pgid` (none without `ms`): when it passes, the group is stopped
 * (stopGroup). settle() cancels a deadline not reached yet, waits for a stop under way and tells
 * whether the deadline was reached.
 */
export function deadlineFor(pgid: number, ms: number | undefined, graceMs: number): { settle(): Promise<boolean> } {
  if (ms === undefined) return { settle: async () => false };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopping: Promise<void> | undefined;
  let left = ms;
  const arm = () => {
    const step = Math.min(left, MAX_TIMER_MS);
    left -= step;
    timer = setTimeout(() => (left > 0 ? arm() : (stopping = stopGroup(pgid, graceMs))), step);
  };
  arm();
  return {
    async settle() {
      clearTimeout(timer);
      if (stopping) await stopping;
      return stopping !== undefined;
    },
  };
}
