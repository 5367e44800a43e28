// SIGINT, SIGTERM and SIGHUP during a command: child processes are stopped, the runs in progress are
// finished `aborted` (note "interrupted"), what was done is printed, and hoard exits 130, 143 or 129.

import { readFileSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { abortActiveRuns, finishedRuns, type RunSummary } from "../ops/context.ts";
import { stopChildren } from "../kernel/spawn.ts";
import { clearProgress } from "./progress.ts";
import { toJson } from "./output.ts";

/** The exit code of an interrupted hoard: 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type HandledSignal = keyof typeof SIGNAL_EXIT;

let json = false;
let printed = false;
let handling = false;

/** The command's own output has begun (an interruption then prints no second JSON document). */
export function outputStarted(): void {
  printed = true;
}

/** Write all of s to fd now (the process exits right after): partial writes continued, a full pipe waited on briefly. */
function say(fd: number, s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  for (let tries = 0; off < buf.length && tries < 200; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") return; // a closed terminal (SIGHUP): nothing to tell
      tries++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function what(r: RunSummary): string {
  return `${r.kind} run ${r.id}${r.volume ? ` of ${r.volume}` : ""}${r.destination ? ` → ${r.destination}` : ""}`;
}

/** The human report of an interruption (pure: the runs it aborted, the runs finished before it, the children stopped). */
export function interruptionReport(signal: string, aborted: readonly RunSummary[], before: readonly RunSummary[], children: number): string {
  const lines = [`interrupted by ${signal}${aborted.length ? "" : "; no run was in progress"}`];
  for (const r of aborted) {
    const c = r.counts as { phase?: string | null; done?: number; total?: number | null; status_changes?: Record<string, number> };
    const at = c.phase ? ` (last progress: ${c.phase}${c.done || c.total ? ` ${c.done ?? 0}${c.total ? `/${c.total}` : ""}` : ""})` : "";
    const changes = Object.entries(c.status_changes ?? {}).map(([s, n]) => `${n} file${n === 1 ? "" : "s"} now ${s}`);
    lines.push(`  ${what(r)}: aborted${at}${changes.length ? `; done before it stopped: ${changes.join(", ")}` : "; nothing recorded yet"}`);
  }
  for (const r of before) lines.push(`  ${what(r)}: ${r.status} (finished before the interruption)`);
  if (children) lines.push(`  stopped ${children} child process${children === 1 ? "" : "es"}`);
  lines.push("  next: run the same command again; what was done stays done, the rest is picked up");
  return lines.join("\n") + "\n";
}

function onSignal(signal: HandledSignal): void {
  const code = SIGNAL_EXIT[signal];
  if (handling) process.exit(code); // a second signal while finishing: leave at once
  handling = true;
  if (printed) return; // the command is done and printing its result: it exits by itself (a second signal ends it)
  clearProgress();
  // children first: nothing may still write to a destination once the runs say they stopped
  const children = stopChildren();
  const aborted = abortActiveRuns(signal);
  const before = finishedRuns().slice(-20);
  say(2, interruptionReport(signal, aborted, before, children));
  if (json && !printed) {
    const message = `interrupted by ${signal}${aborted.length ? `: ${aborted.map(what).join(", ")} aborted` : ""}`;
    say(1, toJson({ ok: false, error: { code: "interrupted", kind: "interrupted", message, hint: "run the same command again; what was done stays done", exit_code: code, details: { signal, aborted, finished: before, children_stopped: children } } }) + "\n");
  }
  process.exit(code);
}

/**
 * Was this signal ignored when hoard started (`nohup` ignores SIGHUP, a shell's background job
 * SIGINT)? Then it stays ignored. Read from /proc; where there is none, SIGHUP counts as ignored.
 */
export function ignoredAtStart(signal: HandledSignal, status?: string): boolean {
  let text = status;
  try {
    text ??= readFileSync("/proc/self/status", "utf8");
  } catch {
    return signal === "SIGHUP";
  }
  const m = /^SigIgn:\s*([0-9a-f]+)$/im.exec(text);
  if (!m) return signal === "SIGHUP";
  return ((BigInt("0x" + m[1]) >> BigInt(constants.signals[signal] - 1)) & 1n) === 1n;
}

/** Handle SIGINT, SIGTERM and SIGHUP for the rest of the command, each unless ignored at start (the CLI entry point calls this once). */
export function installSignalHandlers(o: { json: boolean }): void {
  json = o.json;
  for (const s of Object.keys(SIGNAL_EXIT) as HandledSignal[]) if (!ignoredAtStart(s)) process.on(s, () => onSignal(s));
}
