// Output: exactly one JSON document on stdout with --json (bigints made safe, *_at as ISO times),
// human tables otherwise; logs and progress go to stderr (progress only on a TTY).

import { createConsola } from "consola";
import type { Logger } from "../kernel/plugin.ts";
import { activityLabel, noteProgress } from "../ops/context.ts";
import type { ProgressEvent } from "../ops/meter.ts";
import { clearProgress, progressWanted, stderrLine } from "./progress.ts";

/** ns since epoch → RFC 3339 with nanoseconds. */
export function isoNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString(); // …sss Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${base.slice(0, 19)}.${frac}Z`;
}

/** JSON-safe copy: bigint → number when safe (else string); keys `at` or ending in _at holding ns → ISO. */
export function jsonSafe(x: unknown, key = ""): unknown {
  if (typeof x === "bigint") {
    if ((key.endsWith("_at") || key === "at") && x > 1_000_000_000_000_000n) return isoNs(x);
    return x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();
  }
  if (Array.isArray(x)) return x.map((v) => jsonSafe(v));
  if (x && typeof x === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) o[k] = jsonSafe(v, k);
    return o;
  }
  return x;
}

export const toJson = (x: unknown) => JSON.stringify(jsonSafe(x), null, 2);

const colorOn = () => !process.env.NO_COLOR && !!process.stdout.isTTY && process.env.TERM !== "dumb";
export const style = {
  bold: (s: string) => (colorOn() ? `\x1b[1m${s}\x1b[0m` : s),
  red: (s: string) => (colorOn() ? `\x1b[31m${s}\x1b[0m` : s),
  green: (s: string) => (colorOn() ? `\x1b[32m${s}\x1b[0m` : s),
  dim: (s: string) => (colorOn() ? `\x1b[2m${s}\x1b[0m` : s),
};

export function table(headers: string[], rows: (string | number | bigint | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const w = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join("\n");
}

export function bytes(n: number | bigint): string {
  let x = Number(n);
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (x >= 1024 && i < u.length - 1) (x /= 1024), i++;
  return i === 0 ? `${x} B` : `${x.toFixed(1)} ${u[i]}`;
}

export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "never";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export const when = (ns: bigint | null | undefined) => (ns === null || ns === undefined ? "-" : isoNs(ns).slice(0, 19).replace("T", " "));

let verbose = false;
/** -v/--verbose: debug messages too (set once per command by the runner; --quiet still wins). */
export function setVerbose(on: boolean): void {
  verbose = on;
}

export function makeLogger(quiet: boolean): Logger {
  const c = createConsola({ level: quiet ? 1 : verbose ? 4 : 3, stdout: process.stderr, stderr: process.stderr, formatOptions: { date: false, colors: !process.env.NO_COLOR && !!process.stderr.isTTY } });
  // a message never runs into the progress line: the line is erased first and drawn again by the next event
  return { info: (m) => (clearProgress(), c.info(m)), warn: (m) => (clearProgress(), c.warn(m)), debug: (m) => (verbose && !quiet && clearProgress(), c.debug(m)) };
}

/**
 * The progress sink of a command: every event is noted on the run in progress (an interruption
 * reports where it was); on a terminal it is drawn on one line (src/cli/progress.ts).
 */
export function makeProgress(quiet: boolean): (p: ProgressEvent) => void {
  const line = progressWanted(quiet) ? stderrLine(activityLabel) : undefined;
  return (p) => {
    noteProgress(p);
    line?.update(p);
  };
}

/** A file list in a summary: the first 20 (with sizes, and where from), then "… N more" (of `total`: files may hold the first ones only). */
export function fileList(files: { path: string; size?: number; from?: string }[], indent = "    ", total = files.length): string[] {
  const shown = files.slice(0, 20).map((f) => `${indent}${f.path}${f.size !== undefined ? ` (${bytes(f.size)})` : ""}${f.from ? ` from ${f.from}` : ""}`);
  return total > 20 ? [...shown, `${indent}… ${total - 20} more`] : shown;
}
