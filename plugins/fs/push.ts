// The fs destination's push, in batches: each entry is checked in place or staged (a checked temp copy);
// a batch's copies are made durable together, then renamed into place and their directories fsynced, and
// only then are the batch's outcomes returned (a claim never precedes the durability of what it claims).

import { closeSync } from "node:fs";
import type { FileOutcome, HandlerContext, ManifestEntry } from "hoard/plugin";
import { EntryError, failedOutcome, place, yieldTurn, type FsDest } from "./common.ts";
import { checkOne } from "./objects.ts";
import { makeDurable, settledBySyncfs } from "./durable.ts";
import { discard, placeStaged, stage, type Staged } from "./transfer.ts";
import type { Receipts } from "./receipts.ts";
import type { Tree } from "./tree.ts";

/** Copies staged per batch: 2048, or HOARD_FS_BATCH (tests), read at each push so a test process can set it. */
const batchFiles = (): number => (Number(process.env.HOARD_FS_BATCH) > 0 ? Math.floor(Number(process.env.HOARD_FS_BATCH)) : 2048);
/** Descriptors a batch holds open at most: its copies' (a copy the batch's syncfs covers closes its own
 * once staged) and their directories' handles. */
const BATCH_FDS = 256;
/** Bytes staged per batch, at most (a single larger file makes a batch of its own). */
const BATCH_BYTES = 256 << 20;
/** Give the event loop a turn (signals, progress) after this many entries. */
const YIELD_ENTRIES = 64;

/** Observes the order of a push's steps (the tests): a batch's copies durable, its directories durable, its outcomes returned. */
export interface PushProbe {
  step(kind: "data" | "dirs" | "claim", paths: string[]): void;
}

/** Whether the object of `e` was absent from its directory when the push listed it (see Tree.lacks). */
function absent(dst: Tree, e: ManifestEntry, volume: string): boolean {
  let at: { parents: string[]; name: string };
  try {
    at = place(e.path, volume);
  } catch {
    return false; // an unsafe path: the check refuses it
  }
  return dst.lacks(at.parents, at.name);
}

const isStaged = (x: FileOutcome | Staged): x is Staged => "tmp" in x;

/**
 * Push `manifest` to the destination tree `dst` from the volume tree `src`, one batch at a time; the outcomes
 * of a batch come (in manifest order) once everything they claim is durable. An entry not reached before an
 * abort has none; copies already staged when it comes are still made durable and placed.
 */
export async function* pushBatches(d: FsDest, manifest: ManifestEntry[], ctx: HandlerContext, src: Tree, dst: Tree, receipts: Receipts, probe?: PushProbe): AsyncGenerator<FileOutcome[]> {
  const BATCH_FILES = batchFiles();
  let i = 0;
  while (i < manifest.length && !ctx.signal.aborted) {
    const slots: (FileOutcome | Staged)[] = [];
    const anchors = new Set<bigint>();
    const dirs = new Set<string>();
    let staged = 0;
    let fds = 0;
    let bytes = 0;
    try {
      for (; i < manifest.length && staged < BATCH_FILES && fds + dirs.size < BATCH_FDS && bytes < BATCH_BYTES && !ctx.signal.aborted; i++) {
        if (i % YIELD_ENTRIES === 0) await yieldTurn();
        const e = manifest[i]!;
        ctx.progress({ phase: "push", done: i, total: manifest.length, current: e.path });
        if (absent(dst, e, ctx.volume)) {
          // not in its directory's listing: no object to check in place (the probe would find it missing)
          if (e.status === "offloaded") {
            slots.push(failedOutcome(e.path, new EntryError(`missing at ${d.name}`, true)));
            continue;
          }
        } else
          try {
            slots.push(await checkOne(d, dst, e, ctx, receipts, true));
            continue;
          } catch (err: any) {
            if (ctx.signal.aborted && err?.name === "AbortError") break; // not reached: no outcome
            if (e.status === "offloaded" || !(err instanceof EntryError)) {
              slots.push(failedOutcome(e.path, err));
              continue;
            }
          }
        try {
          const s = await stage(d, src, dst, e, ctx);
          if (settledBySyncfs(s, anchors)) {
            const fd = s.fd;
            s.fd = -1;
            try {
              closeSync(fd); // a local file system with syncfs: its write-back errors come from the syncfs
            } catch {}
          } else fds++;
          dirs.add(s.parents.join("/"));
          slots.push(s);
          staged++;
          bytes += e.size;
        } catch (err: any) {
          if (ctx.signal.aborted && err?.name === "AbortError") break;
          slots.push(failedOutcome(e.path, err));
        }
      }
    } catch (err) {
      for (const s of slots) if (isStaged(s)) discard(dst, s);
      throw err;
    }
    yield await commit(d, slots, ctx, dst, receipts, probe);
  }
  ctx.progress({ phase: "push", done: i, total: manifest.length });
}

/** Make a batch's copies durable, place them, fsync the directories changed, then its outcomes. */
async function commit(d: FsDest, slots: (FileOutcome | Staged)[], ctx: HandlerContext, dst: Tree, receipts: Receipts, probe?: PushProbe): Promise<FileOutcome[]> {
  const staged = slots.filter(isStaged);
  let why: (string | undefined)[];
  try {
    why = await makeDurable(staged);
  } catch (err) {
    for (const s of staged) discard(dst, s);
    throw err;
  }
  probe?.step("data", staged.filter((_, k) => !why[k]).map((s) => s.e.path));
  const out: FileOutcome[] = [];
  let k = 0;
  for (const s of slots) {
    if (!isStaged(s)) {
      out.push(s);
      continue;
    }
    const failed = why[k++];
    if (failed) {
      discard(dst, s);
      out.push({ path: s.e.path, ok: false, reason: `copy not made durable at ${d.name}: ${failed}` });
      continue;
    }
    try {
      out.push(placeStaged(d, dst, s, ctx, receipts));
    } catch (err) {
      out.push(failedOutcome(s.e.path, err));
    }
  }
  // the renames: one fsync per changed directory; a failure un-verifies what was renamed into it
  await dst.syncChanged();
  const placed = out.filter((o) => o.ok && o.transferred);
  probe?.step("dirs", placed.filter((o) => !dst.unsynced.has(o.path)).map((o) => o.path));
  for (let j = 0; j < out.length; j++) {
    const o = out[j]!;
    const unsynced = o.ok ? dst.unsynced.get(o.path) : undefined;
    if (!unsynced) continue;
    receipts.delete(o.path);
    receipts.dirty = true;
    out[j] = { path: o.path, ok: false, reason: unsynced };
  }
  probe?.step("claim", out.filter((o) => o.ok).map((o) => o.path));
  return out;
}
