// What a restore fetches, streamed: the selected rows of a volume page by page, each with the
// destinations whose evidence the gate accepts for it (in the fallback order), in batches.

import { pinned } from "../kernel/dest-identity.ts";
import type { FileStatus } from "../kernel/files.ts";
import { gatePages, liveUnder, type GateRow } from "../kernel/livescan.ts";
import type { OpContext } from "./context.ts";
import { gateBatch } from "./gatecheck.ts";
import type { RestoreResult } from "./restore.ts";
import { selector } from "./select.ts";

export interface PlanSpec {
  volume: string;
  selectors: readonly string[];
  statuses: readonly FileStatus[];
  /** The destinations to restore from, in the order they are tried. */
  candidates: readonly string[];
  fromHint: (path: string) => string;
  /** Files per batch handed out. */
  size: number;
}

export interface PlanItem {
  f: GateRow;
  sources: string[];
}

/**
 * The selected rows with one of `statuses` and the candidates each may come from, in path order, in
 * batches (only one page and one batch held). Counts (selected, no_source), the files no destination
 * can serve (failures) and the unmatched selectors accumulate in `into`. No statement is open while a
 * batch is out: the caller may write to the database.
 */
export async function* restorePlan(ctx: OpContext, o: PlanSpec, into: RestoreResult): AsyncGenerator<PlanItem[]> {
  const sel = selector(o.selectors.length ? o.selectors : ["."], (s) => liveUnder(ctx.db, o.volume, o.statuses, s));
  // the gate of each candidate alone, reading that candidate's check from the row
  const gates = await Promise.all(o.candidates.map((d, i) => gateBatch(ctx, o.volume, [d], { columns: [i] })));
  const initialised = o.candidates.map((d) => pinned(ctx.db, d) !== undefined);
  let batch: PlanItem[] = [];
  for (const page of gatePages(ctx.db, o.volume, o.statuses, o.candidates, { withHash: true, range: sel.range })) {
    for (const f of page) {
      if (!sel.test(f.path)) continue;
      into.counts.selected++;
      let sources = o.candidates.filter((_, i) => gates[i]!.decideRow(f).every((r) => r.code === "policy" || r.code === "not_confirmed"));
      // an offloaded file no destination holds evidence for (a database rebuilt by `recover`, whose
      // evidence comes back only with verify): any initialised candidate may be asked, since restore
      // lands nothing whose BLAKE3 differs from the index and checks each destination's identity
      // (never one whose own last check of this file failed: it is known not to hold it)
      if (sources.length === 0 && f.status === "offloaded")
        sources = o.candidates.filter((_, i) => initialised[i] && !gates[i]!.decideRow(f).some((r) => r.code === "last_check_failed" || r.code === "dest_not_initialised"));
      if (sources.length === 0) {
        into.counts.no_source++;
        into.failures.push({ path: f.path, reason: `no destination among ${o.candidates.join(", ")} holds verified evidence for it; ${o.fromHint(f.path)}` });
      } else batch.push({ f, sources });
    }
    while (batch.length >= o.size) {
      yield batch.slice(0, o.size);
      batch = batch.slice(o.size);
    }
  }
  into.unmatched = o.selectors.length ? sel.unmatched() : [];
  if (batch.length) yield batch;
}
