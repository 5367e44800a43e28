// `hoard ls VOLUME [PATH…]`: what is where (git-annex's whereis): each file's status, size and, per
// destination of the volume, the offload gate's verdict for that destination alone, from the DB.

import { usageError } from "../kernel/errors.ts";
import type { FileStatus } from "../kernel/files.ts";
import { gatePages, liveUnder } from "../kernel/livescan.ts";
import type { OpContext } from "./context.ts";
import { gateBatch } from "./gatecheck.ts";
import { selector } from "./select.ts";

const LIVE: FileStatus[] = ["present", "offloaded", "missing"];

export interface LsEvidence {
  destination: string;
  /** In offload_requires (an offload needs this one). */
  required: boolean;
  /**
   * The gate would accept this destination's evidence for this exact content (verified, covering,
   * current): for a present file, an offload could rely on it; for an offloaded or missing one, a restore could.
   */
  safe: boolean;
  /** null when safe; else the gate's refusal code (no_evidence, not_covered, dest_not_initialised, …). */
  code: string | null;
  reason: string | null;
}

export interface LsFile {
  path: string;
  status: "present" | "offloaded" | "missing";
  size: number;
  /** RFC 3339 with nanoseconds (any date, also before 2001, which the generic ns→time rule would leave a number). */
  mtime_at: string;
  blake3: string;
  evidence: LsEvidence[];
}

export interface LsResult {
  volume: string;
  path: string;
  destinations: { name: string; required: boolean }[];
  files: LsFile[];
  counts: { files: number; bytes: number; present: number; offloaded: number; missing: number };
  unmatched: string[];
}

/** List the volume's live files matching the (volume-relative) selectors; all of them without any. */
export async function listFiles(ctx: OpContext, volume: string, selectors: readonly string[]): Promise<LsResult> {
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`, `known volumes: ${Object.keys(ctx.config.volumes).join(", ") || "none (hoard volume add NAME PATH)"}`);
  const dests = [...new Set([...vol.offload_requires, ...vol.sync_to])];
  // page by page through the rows with each destination's check; each destination's gate alone reads its own
  const sel = selector(selectors.length ? selectors : ["."], (s) => liveUnder(ctx.db, volume, LIVE, s));
  const gates = await Promise.all(dests.map((d, i) => gateBatch(ctx, volume, [d], { columns: [i] })));
  const files: LsFile[] = [];
  const counts = { files: 0, bytes: 0, present: 0, offloaded: 0, missing: 0 };
  for (const page of gatePages(ctx.db, volume, LIVE, dests, { withHash: true, range: sel.range }))
    for (const f of page) {
      if (!sel.test(f.path)) continue;
      const status = f.status as LsFile["status"];
      counts.files++;
      counts.bytes += Number(f.size);
      counts[status]++;
      files.push({
        path: f.path,
        status,
        size: Number(f.size),
        mtime_at: rfc3339Ns(f.mtime_ns),
        blake3: f.blake3,
        evidence: dests.map((d, i) => {
          // an offloaded or missing row changed status after its last check: that is no reason against a
          // restore from there (restore asks the same gate the same way), only against deleting a present file
          const r = gates[i]!.decideRow(f).filter((x) => status === "present" || x.code !== "not_confirmed")[0];
          return { destination: d, required: vol.offload_requires.includes(d), safe: r === undefined, code: r?.code ?? null, reason: r?.reason ?? null };
        }),
      });
    }
  const unmatched = sel.unmatched();
  return { volume, path: vol.path, destinations: dests.map((d) => ({ name: d, required: vol.offload_requires.includes(d) })), files, counts, unmatched: selectors.length ? unmatched : [] };
}

function rfc3339Ns(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - sec * 1_000_000_000n;
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${frac.toString().padStart(9, "0")}Z`;
}
