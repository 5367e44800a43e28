// Assembling the offload gate's inputs from the DB (offline): pinned epochs, components, policy
// refusals from gate:check listeners; then deciding per file, per scanned row or per file class.

import type { Method } from "../kernel/plugin.ts";
import { gate, type GateDestination, type Refusal } from "../kernel/gate.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { componentView, components, type ComponentRow } from "../kernel/vector.ts";
import { objectChecks, objectKey, type ObjectCheck } from "../kernel/objects.ts";
import type { LiveFile } from "../kernel/files.ts";
import { checkColumn, checkColumns, checkOf, type ClassKey, type ScannedCheck, type ScannedRow } from "../kernel/livescan.ts";
import { nowNs } from "../kernel/runtime.ts";
import type { OpContext } from "./context.ts";
import { acceptedMethods } from "./policy.ts";

/** What the per-file gate reads of a file. */
export type GateFileRow = Pick<LiveFile, "path" | "content_id" | "origin_node" | "origin_run" | "status_changed_run">;

export interface GateEvaluator {
  decide(f: GateFileRow): Refusal[];
}

const KNOWN_METHODS: Method[] = ["blake3", "sha256", "sha1", "md5", "size"];

/** What the gate needs of a file apart from its object checks. */
export interface GateClass {
  originNode: string;
  originRun: bigint;
  statusChangedRun: bigint;
  /** For the gate's input only: the gate's decision never depends on them. */
  path?: string;
  contentId?: bigint;
}

type Check = GateDestination["check"];

/** The per-volume inputs (everything but the per-object checks), read once. */
interface Prepared {
  volume: string;
  required: readonly string[];
  comps: Map<string, ComponentRow>; // dest \0 origin
  policy: Map<string, { reason: string; hint?: string }[]>;
  epochs: Map<string, bigint | null>;
  identities: Map<string, string | null>;
  accept: Map<string, (o: string, m: Method) => boolean>;
}

async function prepare(ctx: OpContext, volume: string, required: readonly string[]): Promise<Prepared> {
  const now = nowNs();
  const p: Prepared = { volume, required, comps: new Map(), policy: new Map(), epochs: new Map(), identities: new Map(), accept: new Map() };
  for (const d of required) {
    const pin = pinned(ctx.db, d);
    p.epochs.set(d, pin?.epoch ?? null);
    p.identities.set(d, pin?.identity ?? null);
    const rows = components(ctx.db, { volume, destination: d });
    const methods: [string, Method][] = [];
    for (const c of rows) {
      p.comps.set(`${d}\u0000${c.origin_node}`, c);
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
      p.policy.set(`${d}\u0000${c.origin_node}`, refusals);
    }
    // per-content checks may carry other methods (e.g. size-only): ask about the known ones too
    for (const m of KNOWN_METHODS) methods.push(["", m]);
    p.accept.set(d, await acceptedMethods(ctx, volume, d, ctx.config.destinations[d]?.type ?? "", methods));
  }
  return p;
}

/** The pure gate on one file (class) given its object check at each required destination (by index). */
function decideWith(p: Prepared, f: GateClass, checkAt: (i: number, d: string) => Check): Refusal[] {
  const dests = new Map<string, GateDestination>();
  p.required.forEach((d, i) => {
    const c = p.comps.get(`${d}\u0000${f.originNode}`);
    dests.set(d, {
      name: d,
      epoch: p.epochs.get(d) ?? null,
      identity: p.identities.get(d) ?? null,
      component: c && { originRun: c.origin_run, method: c.method, confirmedRun: c.confirmed_run, epoch: c.epoch },
      check: checkAt(i, d),
      policyRefusals: p.policy.get(`${d}\u0000${f.originNode}`) ?? [],
    });
  });
  return gate({
    volume: p.volume,
    file: { path: f.path ?? "", contentId: f.contentId ?? 0n, originNode: f.originNode, originRun: f.originRun, statusChangedRun: f.statusChangedRun },
    required: p.required,
    destinations: dests,
    accepted: (d, m) => p.accept.get(d)?.(p.comps.has(`${d}\u0000${f.originNode}`) ? f.originNode : "", m) ?? false,
  });
}

const fromScan = (s: ScannedCheck): Check => (s.epoch === null ? undefined : { ok: s.ok === 1n, epoch: s.epoch, method: s.method, reason: s.reason, checkedRun: s.checked_run });

/**
 * Prepare the gate for a volume and a set of destinations (default: its offload_requires), deciding
 * one file at a time from a map of every object check (the reference the batch form must match).
 */
export async function gateFor(ctx: OpContext, volume: string, required = ctx.config.volumes[volume]?.offload_requires ?? []): Promise<GateEvaluator> {
  const p = await prepare(ctx, volume, required);
  const objects = new Map<string, Map<string, ObjectCheck>>();
  for (const d of required) objects.set(d, objectChecks(ctx.db, d, volume));
  return {
    decide(f) {
      return decideWith(p, { originNode: f.origin_node, originRun: f.origin_run, statusChangedRun: f.status_changed_run, path: f.path, contentId: f.content_id }, (_, d) => {
        const ck = objects.get(d)!.get(objectKey(f.path, f.content_id));
        return ck && { ok: ck.ok === 1n, epoch: ck.epoch, method: ck.method, reason: ck.reason, checkedRun: ck.checked_run };
      });
    },
  };
}

export interface GateBatch {
  /** The decision for a row of scanLive (asked with the same destinations, in order). */
  decideScanned(row: ScannedRow): Refusal[];
  /** The decision for a file class with these checks (aligned with the required destinations). */
  decideClass(f: GateClass, checks: readonly Check[]): Refusal[];
  /** The decision for a row of gatePages or gateClasses (asked with the same destinations, in order); decideScanned's. */
  decideRow(row: ClassKey): Refusal[];
}

/**
 * The gate for many files at once: inputs read once, and each distinct (file class, checks)
 * decided once by the pure gate (its decision depends on nothing else). Returned arrays are shared.
 */
export async function gateBatch(ctx: OpContext, volume: string, required = ctx.config.volumes[volume]?.offload_requires ?? [], o: { columns?: readonly number[] } = {}): Promise<GateBatch> {
  const p = await prepare(ctx, volume, required);
  const memo = new Map<string, Refusal[]>();
  const ckKey = (c: Check) => (c ? `${c.epoch}\u0001${c.ok}\u0001${c.method}\u0001${c.reason}\u0001${c.checkedRun}` : "-");
  const decideClass = (f: GateClass, checks: readonly Check[]): Refusal[] => {
    let key = `${f.originNode}\u0000${f.originRun}\u0000${f.statusChangedRun}`;
    for (const c of checks) key += `\u0000${ckKey(c)}`;
    let r = memo.get(key);
    if (!r) memo.set(key, (r = decideWith(p, f, (i) => checks[i])));
    return r;
  };
  // decideRow reads required[j]'s check from the row's columns o.columns[j] (default j: the rows were asked with `required`)
  const cols = o.columns ? o.columns.map(checkColumn) : checkColumns(required.length);
  // rows in path order mostly repeat the class of the row before: compared column by column, no key built
  let prev: ClassKey | undefined;
  let prevRefusals: Refusal[] = [];
  const sameClass = (a: ClassKey, b: ClassKey): boolean => {
    if (a.origin_node !== b.origin_node || a.origin_run !== b.origin_run || a.status_changed_run !== b.status_changed_run) return false;
    for (const c of cols) if (a[c.e] !== b[c.e] || a[c.k] !== b[c.k] || a[c.m] !== b[c.m] || a[c.r] !== b[c.r] || a[c.c] !== b[c.c]) return false;
    return true;
  };
  return {
    decideScanned: (row) => decideClass({ originNode: row.file.origin_node, originRun: row.file.origin_run, statusChangedRun: row.file.status_changed_run }, row.checks.map(fromScan)),
    decideClass,
    decideRow(row) {
      if (prev !== undefined && sameClass(prev, row)) return prevRefusals;
      prevRefusals = decideClass({ originNode: row.origin_node, originRun: row.origin_run, statusChangedRun: row.status_changed_run }, cols.map((c) => fromScan(checkOf(row, c))));
      prev = row;
      return prevRefusals;
    },
  };
}
