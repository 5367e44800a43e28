// Status and evidence reports: files and bytes by status, per-destination coverage, evidence age,
// alarms and offloadable bytes; the evidence table; and the guarded evidence rewind.

import { refused, usageError } from "../kernel/errors.ts";
import { countByStatus, liveFiles } from "../kernel/files.ts";
import { components, rewindComponent } from "../kernel/vector.ts";
import { openAlarms } from "../kernel/alarms.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { oldestContentCheck } from "../kernel/objects.ts";
import { nowNs } from "../kernel/runtime.ts";
import { withRun, type OpContext } from "./context.ts";
import { gateFor } from "./gatecheck.ts";
import { expiryOf } from "./expire.ts";
import { keptAside } from "./kept.ts";

export async function volumeStatus(ctx: OpContext, volume: string) {
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`);
  const live = liveFiles(ctx.db, volume);
  const byStatus = Object.fromEntries(countByStatus(ctx.db, volume).map((c) => [c.status, { files: Number(c.files), bytes: Number(c.bytes) }]));
  const dests = [...new Set([...vol.sync_to, ...vol.offload_requires])];
  const now = nowNs();
  const alarms = openAlarms(ctx.db, volume);
  const destinations = [];
  for (const d of dests) {
    const last = ctx.db.get<{ id: bigint; status: string; started_at: bigint; finished_at: bigint | null; kind: string }>(
      "SELECT id, status, started_at, finished_at, kind FROM runs WHERE volume = ? AND destination = ? AND kind = 'sync' ORDER BY id DESC LIMIT 1", volume, d);
    const g = await gateFor(ctx, volume, [d]);
    let covered = 0;
    // coverage: the evidence covers the file (whether or not it was re-confirmed since it appeared)
    for (const f of live) if (f.status !== "missing" && g.decide(f).every((r) => r.code === "not_confirmed" || r.code === "policy")) covered++;
    const comps = components(ctx.db, { volume, destination: d }).filter((c) => c.epoch === pinned(ctx.db, d)?.epoch);
    const oldest = comps.reduce<bigint | null>((m, c) => (c.verified_at === null ? m : m === null || c.verified_at < m ? c.verified_at : m), null);
    destinations.push({
      name: d,
      required: vol.offload_requires.includes(d),
      initialised: pinned(ctx.db, d) !== undefined,
      last_sync: last ? { run_id: last.id, status: last.status, at: last.finished_at ?? last.started_at } : null,
      coverage: { files: covered, of: live.filter((f) => f.status !== "missing").length },
      methods: [...new Set(comps.map((c) => c.method))],
      evidence_age_s: oldest === null ? null : Number(now - oldest) / 1e9,
      // the oldest content check among the volume's live objects there (rolling re-verification moves it)
      oldest_content_check_s: (() => {
        const pin = pinned(ctx.db, d);
        if (!pin) return null;
        const o = oldestContentCheck(ctx.db, volume, d, pin.epoch);
        return o.oldest === null ? null : Number(now - o.oldest) / 1e9;
      })(),
      never_content_checked: (() => {
        const pin = pinned(ctx.db, d);
        return pin ? oldestContentCheck(ctx.db, volume, d, pin.epoch).unchecked : null;
      })(),
      alarms: alarms.filter((a) => a.destination === d).map((a) => ({ path: a.path, reason: a.reason, run: a.run, raised_at: a.raised_at })),
    });
  }
  let offloadable = { files: 0, bytes: 0 };
  if (vol.offload_requires.length) {
    const g = await gateFor(ctx, volume);
    for (const f of live) if (f.status === "present" && g.decide(f).length === 0) (offloadable.files++, (offloadable.bytes += Number(f.size)));
  }
  // different files restores moved aside (a killed restore's too): the user decides what becomes of them
  const kept_aside = keptAside(vol.path);
  return { volume, path: vol.path, files: byStatus, destinations, offloadable, alarms: alarms.length, kept_aside };
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

export async function evidenceRewind(ctx: OpContext, volume: string, destination: string, origin: string, to: bigint, yes: boolean) {
  if (!ctx.config.volumes[volume]) throw usageError("unknown_volume", `unknown volume ${volume}`);
  const comp = components(ctx.db, { volume, destination }).find((c) => c.origin_node === origin);
  if (!comp) throw refused("no_component", `no evidence for volume ${volume} at ${destination} from origin ${origin}`, `see \`hoard evidence ${volume}\``);
  if (!yes)
    return { applied: false, volume, destination, origin_node: origin, from: comp.origin_run, to, message: `would lower ${volume}/${destination}/${origin} from run ${comp.origin_run} to ${to}; run again with --yes` };
  const out = await withRun(ctx, { kind: "evidence-rewind", volume: null, destination }, () => {}, async (run) => {
    const r = ctx.db.tx(() => rewindComponent(ctx.db, volume, destination, origin, to, run.id));
    return { status: "success", counts: {}, result: r };
  });
  return { applied: true, run_id: out.run.id, volume, destination, origin_node: origin, from: out.result.from, to: out.result.to };
}
