// Per-file outcomes of a kopia destination: check() for push and verify (receipts, content read back,
// lost content uploaded again by repairLost), and confirm() live before an offload (presence or content).

import type { ConfirmDepth, FileOutcome, HandlerContext, ManifestEntry, PluginApi } from "../../src/kernel/plugin.ts";
import { loadCatalog, saveCatalog, scopeOf, type Catalog } from "./catalog.ts";
import { errorText } from "./exec.ts";
import { verifyErrors, type Snapshot } from "./listing.ts";
import { verifyPresence } from "./presence.ts";
import { findLost, markDeleted } from "./repair.ts";
import { mismatch, type KopiaRepository } from "./repository.ts";
import { contentRounds, session, type Cursor, type Found } from "./session.ts";

/** Every ok outcome of push/verify is a BLAKE3 read-back (or a receipt of one). */
export const METHOD_BLAKE3 = "blake3";
/** confirm at depth "presence": listed with the indexed size, data blobs in storage. */
export const METHOD_PRESENCE = "presence";

/** What check() works with: the plugin API, the repository, and how much of a snapshot `snapshot verify` reads. */
export interface KopiaDest {
  api: PluginApi;
  kr: KopiaRepository;
  verifyFilesPercent: number;
}

type Verdict = { ok: true; at: bigint } | { ok: false; at: bigint; errors: string[] };
/** check()'s repair of present files a push's snapshot could not give back: a new snapshot, or why not. */
type Repair = (unread: Found[]) => Promise<{ snap: Snapshot } | { note: string }>;

/**
 * Per-file outcomes for a manifest. `current` is the snapshot this push just made (present files
 * must be in it); without it (verify), present files are looked up like offloaded ones. Every
 * entry is content-checked (read back into BLAKE3) unless `reuse` lets a receipt settle it.
 * `repair` (push): called once with the present files `current` could not give back; a snapshot
 * it returns is where those files are looked up and content-checked again.
 */
export async function check(d: KopiaDest, manifest: ManifestEntry[], ctx: HandlerContext, repoId: string, current: Snapshot | undefined, reuse: boolean, repair?: Repair): Promise<FileOutcome[]> {
  const { kr } = d;
  const k = kr.k;
  const signal = ctx.signal;
  const cat = loadCatalog(kr.stateDir, ctx.volume, repoId, scopeOf(ctx.receiptScope));
  const ses = session(kr, ctx, cat);
  const out = new Map<string, FileOutcome>();
  const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
  const found = new Map<string, Found>(); // where each settled entry's content is
  const first: { f: Found; cur: Cursor | undefined }[] = [];

  let done = 0;
  for (const e of manifest) {
    if (signal.aborted) break;
    ctx.progress({ phase: "kopia listing", done: done++, total: manifest.length, current: e.path });
    if (e.status === "present" && current) {
      // the bytes on disk now went into this push's snapshot: only it may hold them
      const l = await ses.listing(current);
      if (!l.ok) {
        fail(e, l.error);
        continue;
      }
      const it = l.items.get(e.path);
      const why = mismatch(e, it);
      if (why === null) first.push({ f: { e, snap: current, item: it! }, cur: undefined });
      else if (why === "absent") {
        const err = current.errors.find((x) => x.path === e.path);
        fail(e, err ? `kopia could not read it, so snapshot ${current.id} does not hold it: ${k.scrub(err.error)}` : `not in kopia snapshot ${current.id}`, true);
      } else fail(e, `kopia snapshot ${current.id} holds a different version (${why}): the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)`);
      continue;
    }
    const cur = ses.cursor(e, current);
    const f = await cur.next();
    if (f) first.push({ f, cur });
    else fail(e, `no kopia snapshot of ${ctx.volumeRoot} holds it${cur.notes.length ? ` (${cur.notes.slice(0, 3).join("; ")})` : ""}`, true);
  }

  // receipts: an object whose bytes were read back into this BLAKE3 under this scope; its blobs
  // must still be there (`snapshot verify` of the snapshots holding such objects)
  const byReceipt: { f: Found; cur: Cursor | undefined }[] = [];
  const toRead: { f: Found; cur: Cursor | undefined }[] = [];
  for (const q of first) {
    const r = reuse && !q.f.e.recheck ? cat.receipts.get(q.f.item.obj) : undefined;
    if (r && r.b3 === q.f.e.blake3) byReceipt.push(q);
    else toRead.push(q);
  }
  const verdicts = new Map<string, Verdict>();
  const pct = String(d.verifyFilesPercent);
  for (const { f } of byReceipt) {
    if (verdicts.has(f.snap.id) || signal.aborted) continue;
    ctx.progress({ phase: "kopia verify", done: verdicts.size, current: f.snap.id });
    const at = ctx.now();
    const r = await k.run(["snapshot", "verify", "--verify-files-percent", pct, ...k.common(), f.snap.id], { signal });
    verdicts.set(f.snap.id, r.code === 0 ? { ok: true, at } : { ok: false, at, errors: verifyErrors(r.stderr).length ? verifyErrors(r.stderr) : [errorText(r)] });
  }
  const now = ctx.now();
  for (const q of byReceipt) {
    const f = q.f;
    const v = verdicts.get(f.snap.id);
    if (!v) continue; // aborted
    if (!v.ok) {
      // the snapshot's blobs are not all there: this object's content is checked instead
      toRead.push(q);
      continue;
    }
    const r = cat.receipts.get(f.item.obj)!;
    out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: r.at < now ? r.at : now, unchanged: true });
    found.set(f.e.path, f);
  }

  // content checks of everything else
  const unreadablePresent: Found[] = [];
  const unreadableOther = new Map<string, ManifestEntry>(); // entries looked up in older snapshots
  const hooks = {
    matched(f: Found, at: bigint) {
      out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
      found.set(f.e.path, f);
      cat.receipts.set(f.item.obj, { b3: f.e.blake3, at });
    },
    unreadable(f: Found) {
      cat.receipts.delete(f.item.obj);
      if (current && f.snap === current && f.e.status === "present") unreadablePresent.push(f);
      else unreadableOther.set(f.e.path, f.e);
    },
  };
  const reasons = await contentRounds(kr, ctx, toRead, hooks);
  for (const q of toRead) {
    const e = q.f.e;
    if (out.has(e.path)) continue;
    const why = reasons.get(e.path);
    if (!why) continue; // aborted
    const changed = e.status === "present" && current && why.length === 1 && why[0]!.startsWith("content in");
    fail(e, changed ? `${why[0]}: the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)` : why.slice(0, 3).join("; "));
  }

  // present files whose bytes this push's snapshot cannot give back: if kopia lost their data,
  // `repair` has it uploaded again; they are then looked up and read back in the snapshot that did,
  // and other entries that could not be read back (offloaded files of the same content) once more
  const unread = unreadablePresent.filter((f) => !out.get(f.e.path)?.ok);
  if (repair && unread.length > 0 && !signal.aborted) {
    const reasonOf = (e: ManifestEntry) => (out.get(e.path) as { reason?: string } | undefined)?.reason ?? "not read back";
    const fixed = await repair(unread);
    if ("note" in fixed) for (const f of unread) fail(f.e, `${reasonOf(f.e)}; ${fixed.note}`);
    else {
      const again = fixed.snap;
      const others = [...unreadableOther.values()].filter((e) => !out.get(e.path)?.ok);
      const prior = new Map([...unread.map((f) => f.e), ...others].map((e) => [e.path, reasonOf(e)]));
      const l = await ses.listing(again);
      const retry: { f: Found; cur: Cursor | undefined }[] = [];
      for (const f of unread) {
        const was = prior.get(f.e.path)!;
        if (!l.ok) {
          fail(f.e, `${was}; then ${l.error}`);
          continue;
        }
        const it = l.items.get(f.e.path);
        const why = mismatch(f.e, it);
        if (why === null) retry.push({ f: { e: f.e, snap: again, item: it! }, cur: undefined });
        else fail(f.e, `${was}; kopia snapshot ${again.id}, made to upload lost content again, ${why === "absent" ? "does not hold it" : `holds another version (${why})`}`);
      }
      for (const e of others) {
        const cur = ses.cursor(e);
        const f = await cur.next();
        if (f) retry.push({ f, cur });
      }
      const reasons2 = await contentRounds(kr, ctx, retry, hooks);
      for (const { f } of retry) {
        if (out.get(f.e.path)?.ok) continue;
        const why = reasons2.get(f.e.path);
        if (why) fail(f.e, `${prior.get(f.e.path)}; after kopia uploaded lost content again: ${why.slice(0, 2).join("; ")}`);
      }
    }
  }

  // the catalog: where each checked (path, content) is, for offloaded files and fetch later
  const next: Catalog = { version: 2, repository: repoId, files: {}, scope: cat.scope, receipts: new Map() };
  for (const e of manifest) {
    const f = found.get(e.path);
    if (out.get(e.path)?.ok && f) next.files[e.path] = { b3: e.blake3, snap: f.snap.id, obj: f.item.obj };
    else if (cat.files[e.path]?.b3 === e.blake3) next.files[e.path] = cat.files[e.path]!;
  }
  for (const h of Object.values(next.files)) {
    const r = cat.receipts.get(h.obj);
    if (r && r.b3 === h.b3) next.receipts.set(h.obj, r);
  }
  await saveCatalog(d.api.util.writeFileAtomic, kr.stateDir, ctx.volume, next);
  ctx.progress({ phase: "kopia", done: manifest.length, total: manifest.length });
  return manifest.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not verified" });
}

/** Live proof right before an offload: never from receipts; the repository is asked now. */
export async function confirm(kr: KopiaRepository, entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
  const repoId = await kr.ensure(ctx.signal);
  const signal = ctx.signal;
  const cat = loadCatalog(kr.stateDir, ctx.volume, repoId, ""); // holders only order the snapshots
  const ses = session(kr, ctx, cat);
  const out = new Map<string, FileOutcome>();
  const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
  const first: { f: Found; cur: Cursor }[] = [];
  let done = 0;
  for (const e of entries) {
    if (signal.aborted) break;
    ctx.progress({ phase: `kopia confirm (${depth})`, done: done++, total: entries.length, current: e.path });
    const cur = ses.cursor(e);
    const f = await cur.next();
    if (f) first.push({ f, cur });
    else fail(e, `no kopia snapshot of ${ctx.volumeRoot} holds it with size ${e.size}${cur.notes.length ? ` (${cur.notes.slice(0, 3).join("; ")})` : ""}`, true);
  }
  if (depth === "presence") {
    // the listing shows it; `snapshot verify --file-id` (no reads) shows its blobs are in storage.
    // Each file's verdict is its own object's: a failed batch is narrowed down, never confirmed whole
    const verdicts = await verifyPresence(
      kr.k,
      first.map((q) => q.f.item.obj),
      { signal, now: () => ctx.now(), progress: (n) => ctx.progress({ phase: "kopia verify (presence)", done: n, total: first.length }) },
    );
    for (const { f } of first) {
      const v = verdicts.get(f.item.obj);
      if (!v) continue; // aborted
      if (v.ok) out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_PRESENCE, verifiedAt: v.at });
      else if (v.named) fail(f.e, `kopia snapshot ${f.snap.id} lists it, but its data is not in the repository: ${v.error}`, true);
      else fail(f.e, `kopia could not show that the data of its object is in the repository (${v.error})`);
    }
  } else {
    const reasons = await contentRounds(kr, ctx, first, {
      matched(f, at) {
        out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
      },
      unreadable() {},
    });
    for (const { f } of first) {
      if (out.has(f.e.path)) continue;
      const why = reasons.get(f.e.path);
      if (why) fail(f.e, why.slice(0, 3).join("; "));
    }
  }
  return entries.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not confirmed" });
}

/**
 * Present files kopia could not give back from this push's snapshot. kopia dedupes every write
 * against its content index, so content whose pack blob was lost is never uploaded again by a
 * plain snapshot. When `kopia content verify` (index against the blob listing, nothing read)
 * names such content, exactly that content is marked deleted (`kopia content delete`: blobs are
 * not touched, and kopia's snapshot GC undeletes any of it a snapshot still references), then the
 * volume is snapshotted again hashing every file (`--force-hash=100`: unchanged files are not
 * taken from the previous snapshot), so kopia writes the lost content anew from the files here.
 * Damaged (present but unreadable) content is not repaired: a note says what to do.
 */
export async function repairLost(kr: KopiaRepository, ctx: HandlerContext, unread: Found[], snap: Snapshot): Promise<{ snap: Snapshot } | { note: string }> {
  const { k, name, repo } = kr;
  const n = unread.length;
  const f = await findLost(k, ctx.signal);
  if (!f.ok) return { note: `\`kopia content verify\` failed too (${f.error}), so hoard could not tell whether kopia lost its data` };
  if (f.lost.length === 0)
    return { note: `kopia's index lists no content of the repository as lost, so its stored data is there but unreadable: run \`kopia content verify --full\` against ${repo} to find the damaged blobs, and repair or replace them from a copy of the repository` };
  const blobs = [...new Set(f.lost.map((x) => x.blob))];
  ctx.warn(
    `${name}: kopia could not give back ${n} file(s) of snapshot ${snap.id}, and its index lists ${f.lost.length} content(s) whose data blobs are gone (${blobs.slice(0, 3).join(", ")}${blobs.length > 3 ? ", …" : ""}); ` +
      `hoard marks that content deleted (\`kopia content delete\`) and snapshots ${ctx.volumeRoot} again hashing every file (--force-hash=100), so kopia uploads it again from the files still here`,
  );
  const err = await markDeleted(k, f.lost.map((x) => x.content), ctx.signal);
  if (err !== undefined) return { note: `marking the lost content deleted so that kopia uploads it again failed: ${err}` };
  try {
    return { snap: await kr.snapshot(ctx, ["--force-hash=100"], "re-upload of lost content") };
  } catch (e: any) {
    if (ctx.signal.aborted) throw e;
    return { note: `the snapshot that was to upload the lost content again failed: ${e?.message ?? e}` };
  }
}
