// Per-object check records: for each destination object (destination, volume, path, content) the
// latest check's verdict, and when its content was last compared end to end. Written only here.

import { createHash } from "node:crypto";
import type { Db } from "./db.ts";
import type { ConfirmDepth, FileOutcome, ManifestEntry } from "./plugin.ts";
import { nowNs } from "./runtime.ts";
import type { CheckView } from "./manifest-checks.ts";

export interface ObjectCheck {
  content_id: bigint;
  epoch: bigint;
  ok: bigint;
  method: string | null;
  reason: string | null;
  /** The run that last changed this record. */
  run: bigint;
  /** When the content was last compared end to end and matched (null: never). */
  checked_at: bigint | null;
  /** The run of that content check. */
  checked_run: bigint | null;
}

/** Key of an object within one (destination, volume). */
export const objectKey = (path: string, contentId: bigint): string => `${contentId}\u0000${path}`;

/** Every record of one volume at one destination, by objectKey. */
export function objectChecks(db: Db, destination: string, volume: string): Map<string, ObjectCheck & { path: string }> {
  const m = new Map<string, ObjectCheck & { path: string }>();
  for (const r of db.all<ObjectCheck & { path: string }>("SELECT path, content_id, epoch, ok, method, reason, run, checked_at, checked_run FROM dest_objects WHERE destination = ? AND volume = ?", destination, volume))
    m.set(objectKey(r.path, r.content_id), r);
  return m;
}

export function objectCheck(db: Db, destination: string, volume: string, path: string, contentId: bigint): ObjectCheck | undefined {
  return db.get<ObjectCheck>("SELECT content_id, epoch, ok, method, reason, run, checked_at, checked_run FROM dest_objects WHERE destination = ? AND volume = ? AND path = ? AND content_id = ?", destination, volume, path, contentId);
}

function upsert(db: Db, destination: string, volume: string, e: ManifestEntry, r: { epoch: bigint; ok: boolean; method: string | null; reason: string | null; run: bigint; checkedAt: bigint | null; checkedRun: bigint | null }): void {
  db.run(
    `INSERT INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run) VALUES (?,?,?,?,?,?,?,?,?,?,?)
     ON CONFLICT(destination, volume, path, content_id) DO UPDATE SET epoch = excluded.epoch, ok = excluded.ok, method = excluded.method, reason = excluded.reason,
       run = excluded.run, checked_at = excluded.checked_at, checked_run = excluded.checked_run`,
    destination, volume, e.path, e.contentId, r.epoch, r.ok ? 1 : 0, r.method, r.reason, r.run, r.checkedAt, r.checkedRun,
  );
}

/**
 * Record a push's or verify's outcomes (aligned with the manifest). A content check (ok, not
 * `unchanged`) sets the verdict and the content-check time; a failure sets the verdict and keeps
 * when the content last matched; an outcome accepted on a receipt changes nothing (a receipt is
 * not a check). Unchanged records are not rewritten. `current(i)` is entry i's record as read before.
 */
export function recordObjectOutcomes(db: Db, destination: string, volume: string, epoch: bigint, run: bigint, manifest: readonly ManifestEntry[], outcomes: readonly (FileOutcome | undefined)[], current: (i: number) => CheckView | undefined): void {
  const now = nowNs();
  for (let i = 0; i < manifest.length; i++) {
    const o = outcomes[i];
    if (!o) continue;
    const e = manifest[i]!;
    const cur = current(i);
    const same = cur && cur.epoch === epoch;
    if (o.ok) {
      if (o.unchanged) continue;
      const at = o.verifiedAt < now ? o.verifiedAt : now;
      if (same && cur.ok === 1n && cur.method === o.method && cur.checked_at === at) continue;
      upsert(db, destination, volume, e, { epoch, ok: true, method: o.method, reason: null, run, checkedAt: at, checkedRun: run });
    } else {
      if (same && cur.ok === 0n && cur.reason === o.reason) continue;
      upsert(db, destination, volume, e, { epoch, ok: false, method: o.method ?? null, reason: o.reason, run, checkedAt: same ? cur.checked_at : null, checkedRun: same ? cur.checked_run : null });
    }
  }
}

/**
 * Record what a live confirmation showed right before an offload: a failure is recorded (the
 * gate then refuses the object until a push repairs it); a content confirmation is a content check;
 * a presence confirmation changes nothing.
 */
export function recordConfirmations(db: Db, destination: string, volume: string, epoch: bigint, run: bigint, depth: ConfirmDepth, entries: readonly ManifestEntry[], outcomes: readonly (FileOutcome | undefined)[]): void {
  const now = nowNs();
  for (let i = 0; i < entries.length; i++) {
    const o = outcomes[i];
    const e = entries[i]!;
    const cur = objectCheck(db, destination, volume, e.path, e.contentId);
    const same = cur && cur.epoch === epoch;
    if (!o || !o.ok) {
      const reason = o ? (o as { reason: string }).reason : "the destination gave no answer for it";
      upsert(db, destination, volume, e, { epoch, ok: false, method: o?.method ?? null, reason: `live confirmation (${depth}): ${reason}`, run, checkedAt: same ? cur.checked_at : null, checkedRun: same ? cur.checked_run : null });
    } else if (depth === "content" && !o.unchanged)
      upsert(db, destination, volume, e, { epoch, ok: true, method: o.method, reason: null, run, checkedAt: o.verifiedAt < now ? o.verifiedAt : now, checkedRun: run });
  }
}

/** Live rows of required objects whose latest check failed (for `status --check`). */
export function failedObjects(db: Db, volume: string, destination: string, epoch: bigint): { path: string; reason: string | null }[] {
  return db.all<{ path: string; reason: string | null }>(
    `SELECT o.path, o.reason FROM dest_objects o JOIN files f ON f.volume = o.volume AND f.path = o.path AND f.content_id = o.content_id AND f.status IN ('present','offloaded')
     WHERE o.destination = ? AND o.volume = ? AND o.epoch = ? AND o.ok = 0 ORDER BY o.path`,
    destination, volume, epoch,
  );
}

/** The oldest content check among a volume's live rows at a destination (null: some never checked, or none). */
export function oldestContentCheck(db: Db, volume: string, destination: string, epoch: bigint): { oldest: bigint | null; unchecked: number } {
  const r = db.get<{ oldest: bigint | null; unchecked: bigint }>(
    `SELECT min(CASE WHEN o.epoch = ? THEN o.checked_at END) AS oldest, sum(CASE WHEN o.checked_at IS NULL OR o.epoch <> ? THEN 1 ELSE 0 END) AS unchecked
     FROM files f LEFT JOIN dest_objects o ON o.destination = ? AND o.volume = f.volume AND o.path = f.path AND o.content_id = f.content_id
     WHERE f.volume = ? AND f.status IN ('present','offloaded')`,
    epoch, epoch, destination, volume,
  );
  return { oldest: r?.oldest ?? null, unchecked: Number(r?.unchecked ?? 0n) };
}

/** This database's random instance id (created with the database; receipts are bound to it). */
export function instanceId(db: Db): string {
  return db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'instance_id'")?.value ?? "";
}

/**
 * The scope a handler's receipts for (destination, volume) are valid under: it changes with this
 * database's instance id, the destination's pinned identity and epoch, and every evidence rewind
 * of the volume there. A receipt stamped with any other scope is discarded.
 */
export function receiptScope(db: Db, destination: string, volume: string): string {
  const pin = db.get<{ identity: string; epoch: bigint }>("SELECT identity, epoch FROM destinations WHERE name = ?", destination);
  const rewinds = db.get<{ n: bigint }>("SELECT count(*) AS n FROM evidence_history WHERE volume = ? AND destination = ? AND kind IN ('rewind', 'reset')", volume, destination)?.n ?? 0n;
  const text = JSON.stringify([instanceId(db), destination, volume, pin?.identity ?? "", String(pin?.epoch ?? 0n), String(rewinds)]);
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}
