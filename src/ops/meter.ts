// Progress with bytes and a destination name for the work the ops layer hands out or does itself:
// bytes are counted from the sizes of the entries an event reports as done, so no plugin counts them.

import type { HandlerContext, Progress } from "../kernel/plugin.ts";
import { collect } from "./dest-open.ts";

/** A progress event as the ops layer emits it: the destination being worked on, when there is one. */
export interface ProgressEvent extends Progress {
  destination?: string;
}

export type ProgressSink = (p: ProgressEvent) => void;

interface Sized {
  path: string;
  size: number | bigint;
}

/** Where one handler call's entries sit in a larger job (an offload's batch): done before them, and the job's totals. */
export interface Slice {
  done: number;
  bytes: number;
  total: number;
  totalBytes: number;
}

const sizeOf = (xs: readonly Sized[]) => xs.reduce((n, x) => n + Number(x.size), 0);

/**
 * A handler's progress sink over `entries`, tagged with `destination`. An event counting these
 * entries (its total is theirs) and carrying no bytes gets them: the sizes of the distinct entries
 * it names as `current` in its phase (the built-in handlers name an entry once it is done), all of
 * them once done reaches the total. Within a slice such an event is moved onto the whole job's counts.
 * Any other event (a handler's own listing, its own byte counts) passes with the destination added.
 */
export function meter(sink: ProgressSink, entries: readonly Sized[], destination: string, slice?: Slice): ProgressSink {
  const totalBytes = sizeOf(entries);
  // the entry an event names: the built-in handlers name entry `done` (about to be handled) or
  // `done - 1` (just handled), so no map of every path is built unless a handler names others
  let byPath: Map<string, number> | undefined;
  const indexOf = (p: ProgressEvent): number | undefined => {
    const path = p.current!;
    if (entries[p.done]?.path === path) return p.done;
    if (entries[p.done - 1]?.path === path) return p.done - 1;
    if (!byPath) {
      byPath = new Map();
      for (let i = entries.length - 1; i >= 0; i--) byPath.set(entries[i]!.path, i);
    }
    return byPath.get(path);
  };
  let phase = "";
  let seen = new Uint8Array(0);
  let bytes = 0;
  return (p) => {
    if (p.phase !== phase) (phase = p.phase), (seen = new Uint8Array(0)), (bytes = 0);
    const ours = p.total === entries.length;
    const out: ProgressEvent = { ...p, destination };
    if (ours && p.bytes === undefined) {
      const i = p.current === undefined ? undefined : indexOf(p);
      if (i !== undefined) {
        if (seen.length === 0) seen = new Uint8Array(entries.length);
        if (!seen[i]) (seen[i] = 1), (bytes += Number(entries[i]!.size));
      }
      out.bytes = p.done >= entries.length ? totalBytes : bytes;
      out.totalBytes = totalBytes;
    }
    if (ours && slice) {
      out.done = slice.done + p.done;
      out.total = slice.total;
      out.bytes = slice.bytes + (out.bytes ?? 0);
      out.totalBytes = slice.totalBytes;
    }
    sink(out);
  };
}

/**
 * One handler call over `entries` with metered progress: an event before it (nothing done yet),
 * the handler's own events metered (above), and one after it (all of them handled), so even a
 * handler that reports nothing shows where the job is. Returns the call's outcomes.
 */
export async function metered<T>(hctx: HandlerContext, o: { phase: string; entries: readonly Sized[]; destination: string; slice?: Slice }, call: (ctx: HandlerContext) => AsyncIterable<T> | Promise<T[]>): Promise<T[]> {
  const sink = meter(hctx.progress, o.entries, o.destination, o.slice);
  const n = o.entries.length;
  sink({ phase: o.phase, done: 0, total: n });
  const out = await collect(call({ ...hctx, progress: sink }));
  sink({ phase: o.phase, done: n, total: n });
  return out;
}

/** Progress of work done item by item in the ops layer (restore's fetches, offload's unlinks): done/total and bytes. */
export function tally(sink: ProgressSink, phase: string, items: readonly Sized[]): { step(item: Sized, destination?: string): void } {
  return tallyOf(sink, phase, items.length, sizeOf(items));
}

/** tally over items known only by their count and bytes (a job streamed in batches). */
export function tallyOf(sink: ProgressSink, phase: string, total: number, totalBytes: number): { step(item: Sized, destination?: string): void } {
  let done = 0;
  let bytes = 0;
  return {
    step(item, destination) {
      done++;
      bytes += Number(item.size);
      sink({ phase, done, total, bytes, totalBytes, current: item.path, ...(destination ? { destination } : {}) });
    },
  };
}

/** The slices of a job over `items` done in batches: where the batch starting at index `start` sits. */
export function slicer(items: readonly Sized[]): (start: number) => Slice {
  const before = [0];
  for (const x of items) before.push(before.at(-1)! + Number(x.size));
  return (start) => ({ done: start, bytes: before[Math.min(start, items.length)]!, total: items.length, totalBytes: before.at(-1)! });
}

/** The slice that follows `s` once `entries` are done. */
export const past = (s: Slice, entries: readonly Sized[]): Slice => ({ ...s, done: s.done + entries.length, bytes: s.bytes + sizeOf(entries) });
