// Status and evidence reports: files and bytes by status, per-destination coverage, evidence age,
// alarms and offloadable bytes; and the evidence table.

import { usageError } from "../kernel/errors.ts";
import { fileClasses, lastSyncRun, objectClasses, oldestCheckedAt, statusTotals, type FileClass, type ObjectClass } from "../kernel/aggregates.ts";
import { scanLive } from "../kernel/livescan.ts";
import type { GateDestination, Refusal } from "../kernel/gate.ts";
import { components } from "../kernel/vector.ts";
import { openAlarms } from "../kernel/alarms.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { nowNs } from "../kernel/runtime.ts";
import type { OpContext } from "./context.ts";
import { gateBatch, type GateClass } from "./gatecheck.ts";
import { expiryOf } from "./expire.ts";
import { keptAside } from "./kept.ts";

export async function volumeStatus(ctx: OpContext, volume: string) {
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`);
  // the per-class aggregates (a handful of rows, whatever the volume's size): never the rows themselves
  const classes = fileClasses(ctx.db, volume).filter((c) => c.status === "present" || c.status === "offloaded");
  const byStatus = Object.fromEntries(statusTotals(ctx.db, volume).map((c) => [c.status, { files: Number(c.files), bytes: Number(c.bytes) }]));
  const liveCount = classes.reduce((n, c) => n + Number(c.files), 0);
  const dests = [...new Set([...vol.sync_to, ...vol.offload_requires])];
  const now = nowNs();
  const alarms = openAlarms(ctx.db, volume);
  const destinations = [];
  for (const d of dests) {
    const last = lastSyncRun(ctx.db, volume, d);
    const pin = pinned(ctx.db, d);
    const g = await gateBatch(ctx, volume, [d]);
    // coverage: the evidence covers the file (whether or not it was re-confirmed since it appeared)
    const covers = (r: Refusal[]) => r.every((x) => x.code === "not_confirmed" || x.code === "policy");
    const covered = countPassing(classes, objectClasses(ctx.db, volume, d), (f, ck) => covers(g.decideClass(f, [ck]))).files;
    const comps = components(ctx.db, { volume, destination: d }).filter((c) => c.epoch === pin?.epoch);
    const oldest = comps.reduce<bigint | null>((m, c) => (c.verified_at === null ? m : m === null || c.verified_at < m ? c.verified_at : m), null);
    let checked = 0;
    if (pin) for (const o of objectClasses(ctx.db, volume, d)) if (o.epoch === pin.epoch && o.timed === 1n && (o.status === "present" || o.status === "offloaded")) checked += Number(o.files);
    const oldestCheck = pin ? oldestCheckedAt(ctx.db, volume, d, pin.epoch) : null;
    destinations.push({
      name: d,
      required: vol.offload_requires.includes(d),
      initialised: pin !== undefined,
      last_sync: last ? { run_id: last.id, status: last.status, at: last.finished_at ?? last.started_at } : null,
      coverage: { files: covered, of: liveCount },
      methods: [...new Set(comps.map((c) => c.method))],
      evidence_age_s: oldest === null ? null : Number(now - oldest) / 1e9,
      // the oldest content check among the volume's live objects there (rolling re-verification moves it)
      oldest_content_check_s: oldestCheck === null ? null : Number(now - oldestCheck) / 1e9,
      never_content_checked: pin ? liveCount - checked : null,
      alarms: alarms.filter((a) => a.destination === d).map((a) => ({ path: a.path, reason: a.reason, run: a.run, raised_at: a.raised_at })),
    });
  }
  let offloadable = { files: 0, bytes: 0 };
  if (vol.offload_requires.length === 1) {
    const g = await gateBatch(ctx, volume);
    const present = classes.filter((c) => c.status === "present");
    offloadable = countPassing(present, objectClasses(ctx.db, volume, vol.offload_requires[0]!), (f, ck) => g.decideClass(f, [ck]).length === 0);
  } else if (vol.offload_requires.length > 1) {
    // several required destinations: the decision needs each file's checks at all of them together (one cursor pass)
    const g = await gateBatch(ctx, volume);
    for (const row of scanLive(ctx.db, volume, ["present"], vol.offload_requires))
      if (g.decideScanned(row).length === 0) (offloadable.files++, (offloadable.bytes += Number(row.file.size)));
  }
  // different files restores moved aside (a killed restore's too): the user decides what becomes of them
  const kept_aside = keptAside(vol.path);
  return { volume, path: vol.path, files: byStatus, destinations, offloadable, alarms: alarms.length, kept_aside };
}

/**
 * Files and bytes among `classes` the predicate lets through, deciding once per class: each file
 * class's object classes at one destination with their check, the rest of it with none.
 */
function countPassing(classes: readonly FileClass[], objects: readonly ObjectClass[], pass: (f: GateClass, check: GateDestination["check"]) => boolean) {
  const key = (c: FileClass) => `${c.status}\u0000${c.origin_node}\u0000${c.origin_run}\u0000${c.status_changed_run}`;
  const byFile = new Map<string, ObjectClass[]>();
  for (const o of objects) {
    const k = key(o);
    const list = byFile.get(k);
    if (list) list.push(o);
    else byFile.set(k, [o]);
  }
  const out = { files: 0, bytes: 0 };
  for (const c of classes) {
    const f: GateClass = { originNode: c.origin_node, originRun: c.origin_run, statusChangedRun: c.status_changed_run };
    let files = c.files;
    let bytes = c.bytes;
    for (const o of byFile.get(key(c)) ?? []) {
      files -= o.files;
      bytes -= o.bytes;
      if (pass(f, { ok: o.ok === 1n, epoch: o.epoch, method: o.method || null, reason: null, checkedRun: o.checked_run })) (out.files += Number(o.files), (out.bytes += Number(o.bytes)));
    }
    if (files > 0n && pass(f, undefined)) (out.files += Number(files), (out.bytes += Number(bytes)));
  }
  return out;
}

export async function evidenceReport(ctx: OpContext, volume?: string) {
  if (volume && !ctx.config.volumes[volume]) throw usageError("unknown_volume", `unknown volume ${volume}`);
  const now = nowNs();
  const out = [];
  for (const c of components(ctx.db, { volume })) {
    const pin = pinned(ctx.db, c.destination);
    const exp = await expiryOf(ctx, c, now); // policy plugins (staleness) say when it stops being fresh
    out.push({
      volume: c.volume,
      destination: c.destination,
      origin_node: c.origin_node,
      origin_run: c.origin_run,
      method: c.method,
      verified_at: c.verified_at,
      verified_age_s: c.verified_at === null ? null : Number(now - c.verified_at) / 1e9,
      confirmed_run: c.confirmed_run,
      source: c.source,
      epoch: c.epoch,
      current_epoch: pin ? c.epoch === pin.epoch : false,
      expires_at: exp.expires_at,
      expires_in_s: exp.expires_at === null ? null : Number(exp.expires_at - now) / 1e9,
      stale: exp.stale,
    });
  }
  return out;
}
