// Per-file outcomes of a restic destination: check() for push and verify (scoped receipts, content read
// back snapshot by snapshot along each entry's cursor) and confirm() live before an offload.

import type { ConfirmDepth, FileOutcome, HandlerContext, ManifestEntry, PluginApi } from "hoard/plugin";
import type { Node, Snapshot } from "./listing.ts";
import { readBack } from "./readback.ts";
import { loadState, saveState, type State } from "./receipts.ts";
import type { Lister, ResticRepository } from "./repository.ts";

export const METHOD_BLAKE3 = "blake3";
export const METHOD_PRESENCE = "presence";

interface Found {
  e: ManifestEntry;
  snap: string;
  node: Node;
  /** Snapshots still to look in when this one does not hold the indexed content (undefined: none). */
  cursor?: Cursor;
}
interface Cursor {
  notes: string[];
  next(): Promise<{ snap: string; node: Node } | undefined>;
}

/** Snapshots (newest first, the hint first) that list `e.path` as a file of the entry's size. */
export function cursor(e: ManifestEntry, snaps: Snapshot[], list: Lister, st: State | undefined, skip?: string): Cursor {
  const hint = st?.hints.get(e.path);
  const order = snaps.map((s) => s.id);
  if (hint && hint.b3 === e.blake3 && order.includes(hint.snap)) order.splice(order.indexOf(hint.snap), 1), order.unshift(hint.snap);
  let i = 0;
  const notes: string[] = [];
  return {
    notes,
    async next() {
      while (i < order.length) {
        const snap = order[i++]!;
        if (snap === skip) continue;
        const l = await list(snap);
        if (!l.ok) {
          notes.push(l.error);
          continue;
        }
        const n = l.files.get(e.path);
        if (n && n.size === e.size) return { snap, node: n };
      }
      return undefined;
    },
  };
}

const short = (h: string) => h.slice(0, 12);

/**
 * Read each found entry's bytes back and compare with its BLAKE3; an entry whose content differs
 * moves on to the next snapshot of its cursor. Calls matched() per match; returns why others failed.
 */
async function contentRounds(rr: ResticRepository, ctx: HandlerContext, queue: Found[], matched: (f: Found, at: bigint) => void, root: string): Promise<Map<string, string[]>> {
  const reasons = new Map<string, string[]>();
  let round = queue;
  while (round.length > 0 && !ctx.signal.aborted) {
    const bySnap = new Map<string, Found[]>();
    for (const f of round) bySnap.set(f.snap, [...(bySnap.get(f.snap) ?? []), f]);
    const next: Found[] = [];
    for (const [snap, fs] of bySnap) {
      if (ctx.signal.aborted) break;
      ctx.progress({ phase: "restic read-back", done: 0, total: fs.length, current: snap.slice(0, 8) });
      const got = await readBack(rr.r, snap, root, [...new Set(fs.map((f) => f.e.path))], ctx);
      for (const f of fs) {
        const res = got.get(f.e.path);
        if (!res) continue; // aborted
        if (res.ok && res.b3 === f.e.blake3) {
          matched(f, res.at);
          continue;
        }
        const why = reasons.get(f.e.path) ?? [];
        why.push(res.ok ? `content in restic snapshot ${snap.slice(0, 8)} differs from the index (BLAKE3 ${short(res.b3)}, expected ${short(f.e.blake3)})` : `reading it back from restic snapshot ${snap.slice(0, 8)} failed: ${res.error}`);
        reasons.set(f.e.path, why);
        const n = f.cursor ? await f.cursor.next() : undefined;
        if (n) next.push({ ...f, snap: n.snap, node: n.node });
      }
    }
    round = next;
  }
  return reasons;
}

/**
 * Per-file outcomes. `current` is the snapshot this push made (present files must be in it);
 * without it (verify) present files are looked up like offloaded ones, newest snapshot first.
 * Every entry is read back into BLAKE3 unless `reuse` lets a receipt settle it.
 */
export async function check(
  api: PluginApi,
  rr: ResticRepository,
  manifest: ManifestEntry[],
  ctx: HandlerContext,
  repoId: string,
  snaps: Snapshot[],
  current: { snap: string; errors: Map<string, string> } | undefined,
  reuse: boolean,
): Promise<FileOutcome[]> {
  const { failure } = api.util.errors;
  const { name, stateDir, reachHint } = rr;
  const signal = ctx.signal;
  const root = ctx.volumeRoot.replace(/\/+$/, "");
  const st = loadState(stateDir, ctx.volume, repoId, ctx.receiptScope);
  const list = rr.lister(root, signal);
  const out = new Map<string, FileOutcome>();
  const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
  const found: Found[] = [];
  let cur: { id: string; files: Map<string, Node> } | undefined;
  if (current) {
    const l = await list(current.snap);
    if (!l.ok) throw failure("restic_ls_failed", `restic saved snapshot ${current.snap} but cannot list it (destination ${name}): ${l.error}`, reachHint);
    cur = { id: l.id ?? current.snap, files: l.files };
  }
  let done = 0;
  for (const e of manifest) {
    if (signal.aborted) break;
    ctx.progress({ phase: "restic listing", done: done++, total: manifest.length, current: e.path });
    if (e.status === "present" && cur) {
      const n = cur.files.get(e.path);
      if (!n) {
        const err = current!.errors.get(e.path);
        fail(e, err ? `restic could not read it, so snapshot ${cur.id.slice(0, 8)} does not hold it: ${err}` : `not in restic snapshot ${cur.id.slice(0, 8)}`, true);
      } else if (n.size !== e.size) fail(e, `restic snapshot ${cur.id.slice(0, 8)} holds a different version (size ${n.size}, indexed ${e.size}): the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)`);
      else found.push({ e, snap: cur.id, node: n });
      continue;
    }
    const c = cursor(e, snaps, list, st, cur?.id);
    const f = await c.next();
    if (f) found.push({ e, snap: f.snap, node: f.node, cursor: c });
    else fail(e, `no restic snapshot of ${root} holds it with size ${e.size}${c.notes.length ? ` (${c.notes.slice(0, 3).join("; ")})` : ""}`, true);
  }

  // receipts: the same node (size, mtime) read back into this BLAKE3 under this scope, and the
  // repository's structure intact (every pack its index names is there)
  const byReceipt: Found[] = [];
  const toRead: Found[] = [];
  for (const f of found) {
    const rc = reuse && !f.e.recheck ? st.receipts.get(f.e.path) : undefined;
    if (rc && rc.b3 === f.e.blake3 && rc.size === f.node.size && rc.mtime === f.node.mtime) byReceipt.push(f);
    else toRead.push(f);
  }
  if (byReceipt.length > 0 && !signal.aborted) {
    const s = await rr.structureOk(signal);
    const now = ctx.now();
    if (s.ok)
      for (const f of byReceipt) {
        const rc = st.receipts.get(f.e.path)!;
        out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: rc.at < now ? rc.at : now, unchanged: true });
        st.hints.set(f.e.path, { b3: f.e.blake3, snap: f.snap });
      }
    else {
      ctx.warn(`${name}: restic check found problems (${s.error}); the files it would have spared are read back`);
      for (const f of byReceipt) toRead.push(f); // unbounded: never spread into arguments
    }
  }

  const reasons = await contentRounds(
    rr,
    ctx,
    toRead,
    (f, at) => {
      out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
      st.receipts.set(f.e.path, { b3: f.e.blake3, size: f.node.size, mtime: f.node.mtime, at });
      st.hints.set(f.e.path, { b3: f.e.blake3, snap: f.snap });
    },
    root,
  );
  for (const f of toRead) {
    const e = f.e;
    if (out.has(e.path)) continue;
    const why = reasons.get(e.path);
    if (!why) continue; // aborted
    st.receipts.delete(e.path);
    const changed = e.status === "present" && cur && why.length === 1 && why[0]!.startsWith("content in");
    fail(e, changed ? `${why[0]}: the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)` : why.slice(0, 3).join("; "));
  }
  // keep only records of paths in this manifest
  const paths = new Set(manifest.map((e) => e.path));
  for (const k of [...st.receipts.keys()]) if (!paths.has(k)) st.receipts.delete(k);
  for (const k of [...st.hints.keys()]) if (!paths.has(k)) st.hints.delete(k);
  await saveState(api.util.writeFileAtomic, stateDir, ctx.volume, st);
  ctx.progress({ phase: "restic", done: manifest.length, total: manifest.length });
  return manifest.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not verified" });
}

/** Live proof right before an offload: never from receipts; the repository is asked now. */
export async function confirm(rr: ResticRepository, entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
  const repoId = await rr.ensure(ctx.signal);
  const signal = ctx.signal;
  const root = ctx.volumeRoot.replace(/\/+$/, "");
  const snaps = await rr.snapshots(ctx.volume, signal);
  const st = loadState(rr.stateDir, ctx.volume, repoId, ""); // hints only order the snapshots; no receipts
  const list = rr.lister(root, signal);
  const out = new Map<string, FileOutcome>();
  const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
  const found: Found[] = [];
  for (const e of entries) {
    if (signal.aborted) break;
    const c = cursor(e, snaps, list, st);
    const f = await c.next();
    if (f) found.push({ e, snap: f.snap, node: f.node, cursor: c });
    else fail(e, `no restic snapshot of ${root} holds it with size ${e.size}${c.notes.length ? ` (${c.notes.slice(0, 3).join("; ")})` : ""}`, true);
  }
  if (depth === "presence") {
    if (found.length > 0 && !signal.aborted) {
      const s = await rr.structureOk(signal);
      const at = ctx.now();
      for (const f of found)
        if (s.ok) out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_PRESENCE, verifiedAt: at });
        else fail(f.e, `restic snapshot ${f.snap.slice(0, 8)} lists it, but restic check found the repository damaged: ${s.error}`);
    }
  } else {
    const reasons = await contentRounds(rr, ctx, found, (f, at) => void out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at }), root);
    for (const f of found) {
      if (out.has(f.e.path)) continue;
      const why = reasons.get(f.e.path);
      if (why) fail(f.e, why.slice(0, 3).join("; "));
    }
  }
  return entries.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not confirmed" });
}
