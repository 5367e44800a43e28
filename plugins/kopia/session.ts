// What one kopia run knows and reads: snapshots and listings asked for at most once, where each entry
// may be held (best first), and content checks reading candidate objects back into BLAKE3 round by round.

import { join } from "node:path";
import type { HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { Catalog } from "./catalog.ts";
import type { Snapshot, Listed } from "./listing.ts";
import { readBack, type ReadItem, type ReadResult } from "./readback.ts";
import { mismatch, type KopiaRepository, type ListingResult } from "./repository.ts";

export interface Found {
  e: ManifestEntry;
  snap: Snapshot;
  item: Listed;
}
/** The next snapshot object that may hold an entry (undefined: none left); notes: why others did not. */
export interface Cursor {
  notes: string[];
  next(): Promise<Found | undefined>;
}

/** What one run knows about the repository: snapshots and listings, each asked for at most once. */
export function session(kr: KopiaRepository, ctx: HandlerContext, cat: Catalog) {
  const signal = ctx.signal;
  let all: Promise<Snapshot[]> | undefined;
  const snapshots = () => (all ??= kr.listSnapshots(signal));
  const listings = new Map<string, Promise<ListingResult>>();
  const listing = (s: Snapshot) => {
    let p = listings.get(s.id);
    if (!p) listings.set(s.id, (p = kr.listTree(s, signal)));
    return p;
  };
  const holderSnap = async (e: ManifestEntry): Promise<Snapshot | undefined> => {
    const h = cat.files[e.path];
    if (!h || h.b3 !== e.blake3) return undefined;
    return (await snapshots()).find((s) => s.id === h.snap);
  };
  /**
   * Where an entry may be held, best first: the snapshot its content was last checked in, `first`,
   * then every snapshot of the volume root, newest first; each distinct object once. Listings that
   * fail or hold another version are noted.
   */
  function cursor(e: ManifestEntry, first?: Snapshot): Cursor {
    const notes: string[] = [];
    const gen = (async function* (): AsyncGenerator<Found> {
      const seen = new Set<string>();
      const objs = new Set<string>();
      const order = async function* () {
        const h = await holderSnap(e);
        if (h) yield h;
        if (first) yield first;
        yield* kr.ofVolume(await snapshots(), ctx);
      };
      for await (const s of order()) {
        if (seen.has(s.id)) continue;
        seen.add(s.id);
        const l = await listing(s);
        if (!l.ok) {
          notes.push(l.error);
          continue;
        }
        const it = l.items.get(e.path);
        const why = mismatch(e, it);
        if (why === null) {
          if (objs.has(it!.obj)) continue;
          objs.add(it!.obj);
          yield { e, snap: s, item: it! };
        } else if (why !== "absent") notes.push(`snapshot ${s.id}: ${why}`);
      }
    })();
    return { notes, next: async () => ((await gen.next()).value as Found | undefined) ?? undefined };
  }
  return { snapshots, listing, cursor };
}

/** Read objects back into BLAKE3 (hoard's private state dir holds the temporary copies). */
function reader(kr: KopiaRepository, ctx: HandlerContext) {
  const memo = new Map<string, ReadResult>();
  return async (items: ReadItem[]): Promise<Map<string, ReadResult>> => {
    const want = items.filter((it) => !memo.has(it.obj));
    if (want.length > 0) {
      const got = await readBack(kr.k, want, {
        tmpRoot: join(kr.stateDir, "tmp"),
        signal: ctx.signal,
        blake3File: (p) => ctx.blake3File(p),
        blake3Stream: () => ctx.blake3Stream(),
        now: () => ctx.now(),
        progress: (done, total, bytes) => ctx.progress({ phase: "kopia read-back", done, total, bytes }),
      });
      for (const [obj, r] of got) memo.set(obj, r);
    }
    return memo;
  };
}

const short = (h: string) => `${h.slice(0, 16)}…`;

/**
 * Content checks by read-back: each entry's candidate object is read back and its BLAKE3 compared
 * with the entry's; on a mismatch or a failed read the next candidate is tried (when `more` allows).
 * Returns the entries that matched (with where) and the failure reasons of the others.
 */
export async function contentRounds(
  kr: KopiaRepository,
  ctx: HandlerContext,
  start: { f: Found; cur: Cursor | undefined }[],
  hooks: { matched(f: Found, at: bigint): void; unreadable(f: Found): void },
): Promise<Map<string, string[]>> {
  const read = reader(kr, ctx);
  const reasons = new Map<string, string[]>();
  let queue = start;
  while (queue.length > 0 && !ctx.signal.aborted) {
    const res = await read(queue.map((q) => ({ obj: q.f.item.obj, size: q.f.item.size })));
    const next: typeof queue = [];
    for (const q of queue) {
      const { e, snap, item } = q.f;
      const r = res.get(item.obj);
      if (!r) continue; // aborted
      const why = reasons.get(e.path) ?? [];
      if (r.ok && r.b3 === e.blake3) {
        reasons.delete(e.path);
        hooks.matched(q.f, r.at);
        continue;
      }
      if (r.ok) why.push(`content in kopia snapshot ${snap.id} differs from the index (BLAKE3 ${short(r.b3)}, expected ${short(e.blake3)})`);
      else {
        hooks.unreadable(q.f);
        why.push(`reading it back from kopia snapshot ${snap.id} failed: ${r.error}`);
      }
      reasons.set(e.path, why);
      const f = q.cur ? await q.cur.next() : undefined;
      if (f) next.push({ f, cur: q.cur });
    }
    queue = next;
  }
  return reasons;
}
