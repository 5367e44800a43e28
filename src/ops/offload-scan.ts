// The offload's selection, streamed: the present rows of a volume page by page through the batch gate,
// counted and grouped by refusal into the result, the offloadable ones handed out in batches; or summarised.

import type { Refusal } from "../kernel/gate.ts";
import { gateClasses, gatePages, liveUnder, type GateRow } from "../kernel/livescan.ts";
import type { OpContext } from "./context.ts";
import { gateBatch } from "./gatecheck.ts";
import type { OffloadResult } from "./offload.ts";
import { selector } from "./select.ts";

export interface ScanSpec {
  volume: string;
  selectors: readonly string[];
  required: readonly string[];
  /** Only files whose mtime is at most this (ns). */
  cutoff?: bigint;
  /** Files per batch handed out. */
  size: number;
  /** The rows carry their BLAKE3 (a confirmation and an unlink need it; a plain dry run does not). */
  withHash: boolean;
}

/**
 * The selected present files the gate lets go, in path order, in batches of `size` (only one batch
 * and one page are held). Counts (selected, offloadable, refused), refusal groups and unmatched
 * selectors accumulate in `into`; the groups and unmatched selectors are complete once it ends.
 * No statement is open while a batch is out: the caller may write to the database.
 */
export async function* offloadable(ctx: OpContext, o: ScanSpec, into: OffloadResult): AsyncGenerator<GateRow[]> {
  const sel = selector(o.selectors, (s) => liveUnder(ctx.db, o.volume, ["present"], s));
  const g = await gateBatch(ctx, o.volume, [...o.required]);
  const groups = new Map<string, OffloadResult["refusals"][number]>();
  into.refusals = [];
  const c = into.counts;
  let batch: GateRow[] = [];
  for (const page of gatePages(ctx.db, o.volume, ["present"], o.required, { withHash: o.withHash, range: sel.range })) {
    for (const f of page) {
      if (!sel.test(f.path) || (o.cutoff !== undefined && f.mtime_ns > o.cutoff)) continue;
      c.selected++;
      const refs = g.decideRow(f);
      if (refs.length === 0) {
        c.offloadable++;
        c.offloadable_bytes += Number(f.size);
        batch.push(f);
        continue;
      }
      c.refused++;
      for (const r of refs) {
        const key = `${r.destination}\u0000${r.code}\u0000${r.hint}`;
        let grp = groups.get(key);
        if (!grp) groups.set(key, (grp = { destination: r.destination, code: r.code, reason: r.reason, hint: r.hint, files: 0, examples: [] }));
        grp.files++;
        if (grp.examples.length < 5) grp.examples.push(f.path);
      }
    }
    while (batch.length >= o.size) {
      yield batch.slice(0, o.size);
      batch = batch.slice(o.size);
    }
  }
  into.unmatched = sel.unmatched();
  into.refusals = [...groups.values()];
  if (batch.length) yield batch;
}

/**
 * A dry run's summary of a whole volume (selector ".") without handing out its rows: the counts from
 * the classes of rows (each decided once, inside one SQLite pass), then the rows in path order only as
 * far as needed for each refusal group's examples and the first `list` files that would go (passed to
 * `would`). The same counts, groups (in order of their first file), examples and files as offloadable().
 */
export async function summarise(ctx: OpContext, o: { volume: string; required: readonly string[]; list: number }, into: OffloadResult, would: (f: { path: string; size: number }) => void): Promise<void> {
  const g = await gateBatch(ctx, o.volume, [...o.required]);
  const c = into.counts;
  const keyOf = (r: Refusal) => `${r.destination}\u0000${r.code}\u0000${r.hint}`;
  const need = new Map<string, { r: Refusal; files: number }>();
  for (const k of gateClasses(ctx.db, o.volume, ["present"], o.required)) {
    const files = Number(k.files);
    c.selected += files;
    const refs = g.decideRow(k);
    if (refs.length === 0) {
      c.offloadable += files;
      c.offloadable_bytes += Number(k.bytes);
      continue;
    }
    c.refused += files;
    for (const r of refs) {
      const n = need.get(keyOf(r));
      if (n) n.files += files;
      else need.set(keyOf(r), { r, files });
    }
  }
  const groups = new Map<string, OffloadResult["refusals"][number]>();
  let listed = 0;
  let missing = 0; // examples still to find
  for (const n of need.values()) missing += Math.min(5, n.files);
  rows: for (const page of gatePages(ctx.db, o.volume, ["present"], o.required)) {
    for (const f of page) {
      if (missing <= 0 && listed >= Math.min(o.list, c.offloadable)) break rows;
      const refs = g.decideRow(f);
      if (refs.length === 0) {
        if (listed < o.list) (would({ path: f.path, size: Number(f.size) }), listed++);
        continue;
      }
      for (const r of refs) {
        const key = keyOf(r);
        let grp = groups.get(key);
        if (!grp) groups.set(key, (grp = { destination: r.destination, code: r.code, reason: r.reason, hint: r.hint, files: need.get(key)?.files ?? 0, examples: [] }));
        if (grp.examples.length < 5) (grp.examples.push(f.path), missing--);
      }
    }
  }
  // a group the rows no longer show (changed since the classes were read) is still counted
  for (const [key, n] of need) if (!groups.has(key)) groups.set(key, { destination: n.r.destination, code: n.r.code, reason: n.r.reason, hint: n.r.hint, files: n.files, examples: [] });
  into.refusals = [...groups.values()];
  into.unmatched = c.selected === 0 ? ["."] : [];
}
