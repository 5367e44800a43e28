// The one progress line on a terminal (stderr): phase, volume and destination, done/total, bytes,
// rate and ETA, rewritten in place at most 10 times a second and cleared before anything else prints.

import { setInterval as every } from "node:timers"; // a Timeout with unref() under Bun and Deno alike
import type { Progress } from "../kernel/plugin.ts";

/** What the line says besides the event: the run's volume and destination(s), e.g. "photos → nas". */
export interface Shown extends Progress {
  label?: string;
}

function size(n: number): string {
  let x = n;
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (x >= 1024 && i < u.length - 1) (x /= 1024), i++;
  return i === 0 ? `${Math.round(x)} B` : `${x.toFixed(1)} ${u[i]}`;
}

/** A duration for the line: 0:07, 12:34, 1h02m. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Cut to at most `max` characters, keeping the end (a path's file name matters most). */
const keepEnd = (s: string, max: number) => {
  const cs = [...s];
  return cs.length <= max ? s : max <= 1 ? "" : "…" + cs.slice(cs.length - max + 1).join("");
};

/**
 * The progress line for an event seen `elapsedMs` after its phase's first event (which had counted
 * `base`), at most `columns - 1` characters (a full line would wrap and break the rewrite): phase
 * and label, done/total (percent), bytes, rate (bytes/s when bytes are counted, else files/s),
 * ETA (else the time spent), current path.
 */
export function formatProgress(p: Shown, elapsedMs: number, columns = 80, base: { done: number; bytes: number } = { done: 0, bytes: 0 }): string {
  const parts: string[] = [p.label ? `${p.phase} ${p.label}` : p.phase];
  const hasTotal = p.total !== undefined && p.total > 0;
  if (hasTotal) parts.push(`${p.done}/${p.total} (${Math.min(100, Math.floor((100 * p.done) / p.total!))}%)`);
  else if (p.done > 0) parts.push(String(p.done));
  if (p.bytes !== undefined) parts.push(p.totalBytes ? `${size(p.bytes)}/${size(p.totalBytes)}` : size(p.bytes));
  const secs = elapsedMs / 1000;
  const byteRate = secs >= 0.5 && p.bytes ? Math.max(0, p.bytes - base.bytes) / secs : 0;
  const itemRate = secs >= 0.5 && p.done > 0 ? Math.max(0, p.done - base.done) / secs : 0;
  if (byteRate > 0) parts.push(`${size(byteRate)}/s`);
  else if (itemRate > 0) parts.push(`${itemRate >= 10 ? Math.round(itemRate) : itemRate.toFixed(1)} files/s`);
  // the time left: from the bytes when they are counted against a total, else from the files
  let eta: number | undefined;
  if (p.totalBytes && p.bytes !== undefined) eta = byteRate > 0 && p.bytes < p.totalBytes ? ((p.totalBytes - p.bytes) / byteRate) * 1000 : undefined;
  else if (itemRate > 0 && hasTotal && p.done < p.total!) eta = ((p.total! - p.done) / itemRate) * 1000;
  parts.push(eta !== undefined ? `ETA ${clock(eta)}` : clock(elapsedMs));
  const max = Math.max(20, columns - 1);
  let line = parts.join("  ");
  if ([...line].length > max) return keepEnd(line, max);
  if (p.current) {
    const room = max - [...line].length - 2;
    if (room >= 8) line += "  " + keepEnd(p.current.replace(/[\x00-\x1f\x7f]/g, "?"), room);
  }
  return line;
}

export interface LineOptions {
  write(s: string): void;
  now(): number;
  columns(): number;
  /** The label of the work in progress (volume → destination), asked at each event. */
  label?(p: Progress): string | undefined;
  /** Least time between two redraws (default 100 ms: at most 10 a second). */
  minIntervalMs?: number;
}

export interface ProgressLine {
  update(p: Progress): void;
  /** Redraw the last event if it changed since it was drawn, or a second has passed (the time moves on). */
  tick(): void;
  /** Erase the line (before a summary, a warning, an error); the next event draws it again. */
  clear(): void;
  readonly drawn: boolean;
}

/** A line rewritten in place (\r, erase to the end of the line); rate-limited; phases timed from their first event. */
export function progressLine(o: LineOptions): ProgressLine {
  const minInterval = o.minIntervalMs ?? 100;
  let last: Shown | undefined;
  let fresh = false;
  let drawnAt = -Infinity;
  let drawn = false;
  // each phase (and label) is timed from its first event, also when phases take turns (an offload's
  // confirmations and unlinks, batch after batch): its rate is then the whole job's so far
  const phases = new Map<string, { start: number; base: { done: number; bytes: number } }>();
  let phase = { start: 0, base: { done: 0, bytes: 0 } };
  const draw = () => {
    if (!last) return;
    const now = o.now();
    o.write(`\r\x1b[K${formatProgress(last, now - phase.start, o.columns(), phase.base)}`);
    drawnAt = now;
    drawn = true;
    fresh = false;
  };
  return {
    update(p) {
      const label = o.label?.(p);
      const key = `${p.phase}\u0000${label ?? ""}`;
      const now = o.now();
      // a phase is timed from its first event, and its rate counts what was done since
      let known = phases.get(key);
      if (!known) phases.set(key, (known = { start: now, base: { done: p.done, bytes: p.bytes ?? 0 } }));
      phase = known;
      last = { ...p, label };
      fresh = true;
      if (now - drawnAt >= minInterval) draw();
    },
    tick() {
      if (!last) return;
      const since = o.now() - drawnAt;
      if ((fresh && since >= minInterval) || since >= 1000) draw();
    },
    clear() {
      if (drawn) o.write("\r\x1b[K");
      drawn = false;
      last = undefined;
      fresh = false;
      drawnAt = -Infinity;
    },
    get drawn() {
      return drawn;
    },
  };
}

/** The process's one line on stderr, when stderr is a terminal (set up by makeProgress). */
let terminalLine: ProgressLine | undefined;
let ticker: ReturnType<typeof every> | undefined;

/** Is the progress line wanted: stderr a terminal (not TERM=dumb), and neither --quiet nor --json? */
export function progressWanted(quiet: boolean): boolean {
  return !quiet && !!process.stderr.isTTY && process.env.TERM !== "dumb";
}

/**
 * The line's clock. Test hook: HOARD_TEST_PROGRESS_STEP_MS=N makes it a virtual clock that moves N ms
 * at each reading, so what a run draws (rates, ETAs, how many redraws) depends on its events, not on
 * the machine's speed. Unset in normal use.
 */
function lineClock(): () => number {
  const step = Number(process.env.HOARD_TEST_PROGRESS_STEP_MS);
  if (!(step > 0)) return () => performance.now();
  let t = 0;
  return () => (t += step);
}

/** The line on stderr (created once), redrawn by a timer while events are quiet (the timer never keeps hoard alive). */
export function stderrLine(label: (p: Progress) => string | undefined): ProgressLine {
  if (!terminalLine) {
    terminalLine = progressLine({ write: (s) => void process.stderr.write(s), now: lineClock(), columns: () => process.stderr.columns || 80, label });
    ticker = every(() => terminalLine?.tick(), 250);
    ticker.unref();
  }
  return terminalLine;
}

/** Erase the progress line, if one is shown: call before printing anything else to the terminal. */
export function clearProgress(): void {
  terminalLine?.clear();
}
