// Assembling the offload gate's inputs from the DB (offline): pinned epochs, components, the
// latest per-object checks, and policy refusals from gate:check listeners, then deciding per file.

import type { Method } from "../kernel/plugin.ts";
import { gate, type GateDestination, type Refusal } from "../kernel/gate.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { componentView, components, type ComponentRow } from "../kernel/vector.ts";
import { objectChecks, objectKey, type ObjectCheck } from "../kernel/objects.ts";
import type { LiveFile } from "../kernel/files.ts";
import { nowNs } from "../kernel/runtime.ts";
import type { OpContext } from "./context.ts";
import { acceptedMethods } from "./policy.ts";

export interface GateEvaluator {
  decide(f: LiveFile): Refusal[];
}

const KNOWN_METHODS: Method[] = ["blake3", "sha256", "sha1", "md5", "size"];

/** Prepare the gate for a volume and a set of destinations (default: its offload_requires). */
export async function gateFor(ctx: OpContext, volume: string, required = ctx.config.volumes[volume]?.offload_requires ?? []): Promise<GateEvaluator> {
  const now = nowNs();
  const comps = new Map<string, ComponentRow>(); // dest \0 origin
  const policy = new Map<string, { reason: string; hint?: string }[]>();
  const epochs = new Map<string, bigint | null>();
  const identities = new Map<string, string | null>();
  const objects = new Map<string, Map<string, ObjectCheck>>();
  const accept = new Map<string, (o: string, m: Method) => boolean>();
  for (const d of required) {
    const pin = pinned(ctx.db, d);
    epochs.set(d, pin?.epoch ?? null);
    identities.set(d, pin?.identity ?? null);
    objects.set(d, objectChecks(ctx.db, d, volume));
    const rows = components(ctx.db, { volume, destination: d });
    const methods: [string, Method][] = [];
    for (const c of rows) {
      comps.set(`${d}\u0000${c.origin_node}`, c);
      for (const m of c.method.split("+").filter(Boolean)) methods.push([c.origin_node, m]);
      const refusals: { reason: string; hint?: string }[] = [];
      if (pin && c.epoch === pin.epoch)
        for (const { decision } of await ctx.registry.emit("gate:check", {
          volume,
          destination: d,
          table: ctx.config.destinations[d]?.table ?? {},
          config: ctx.config.extra,
          component: componentView(c),
          now,
        }))
          refusals.push({ reason: decision.refuse, hint: decision.hint });
      policy.set(`${d}\u0000${c.origin_node}`, refusals);
    }
    // per-content checks may carry other methods (e.g. size-only): ask about the known ones too
    for (const m of KNOWN_METHODS) methods.push(["", m]);
    accept.set(d, await acceptedMethods(ctx, volume, d, ctx.config.destinations[d]?.type ?? "", methods));
  }
  return {
    decide(f) {
      const dests = new Map<string, GateDestination>();
      for (const d of required) {
        const c = comps.get(`${d}\u0000${f.origin_node}`);
        const ck = objects.get(d)!.get(objectKey(f.path, f.content_id));
        dests.set(d, {
          name: d,
          epoch: epochs.get(d) ?? null,
          identity: identities.get(d) ?? null,
          component: c && { originRun: c.origin_run, method: c.method, confirmedRun: c.confirmed_run, epoch: c.epoch },
          check: ck && { ok: ck.ok === 1n, epoch: ck.epoch, method: ck.method, reason: ck.reason, checkedRun: ck.checked_run },
          policyRefusals: policy.get(`${d}\u0000${f.origin_node}`) ?? [],
        });
      }
      return gate({
        volume,
        file: { path: f.path, contentId: f.content_id, originNode: f.origin_node, originRun: f.origin_run, statusChangedRun: f.status_changed_run },
        required,
        destinations: dests,
        accepted: (d, m) => accept.get(d)?.(comps.has(`${d}\u0000${f.origin_node}`) ? f.origin_node : "", m) ?? false,
      });
    },
  };
}

