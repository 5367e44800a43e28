// A sync's manifest read together with each entry's object record at the destination, through one
// cursor in path order; the records are kept in columns aligned with the manifest (no map, no key strings).

import type { Db } from "./db.ts";
import type { ManifestEntry } from "./plugin.ts";
import type { ObjectCheck } from "./objects.ts";

/** What a sync reads of an object record. */
export type CheckView = Pick<ObjectCheck, "epoch" | "ok" | "method" | "reason" | "checked_at" | "checked_run">;

const HAS = 1;
const OK = 2;
const AT = 4;
const RUN = 8;

/** Object records aligned with a manifest: entry i's record (or none) at index i. */
export class AlignedChecks {
  private flags = new Uint8Array(1024);
  private epochs = new BigInt64Array(1024);
  private at = new BigInt64Array(1024);
  private runs = new BigInt64Array(1024);
  private methodIx = new Uint16Array(1024);
  private readonly methods: (string | null)[] = [null];
  private readonly reasons = new Map<number, string>();

  /** Record of entry i as read (none: undefined). */
  set(i: number, r: CheckView | undefined): void {
    if (i >= this.flags.length) this.grow(i + 1);
    if (!r) return;
    this.flags[i] = HAS | (r.ok === 1n ? OK : 0) | (r.checked_at !== null ? AT : 0) | (r.checked_run !== null ? RUN : 0);
    this.epochs[i] = r.epoch;
    if (r.checked_at !== null) this.at[i] = r.checked_at;
    if (r.checked_run !== null) this.runs[i] = r.checked_run;
    let m = this.methods.indexOf(r.method);
    if (m < 0) m = this.methods.push(r.method) - 1;
    this.methodIx[i] = m;
    if (r.reason !== null) this.reasons.set(i, r.reason);
  }

  get(i: number): CheckView | undefined {
    const f = this.flags[i] ?? 0;
    if (!(f & HAS)) return undefined;
    return { epoch: this.epochs[i]!, ok: f & OK ? 1n : 0n, method: this.methods[this.methodIx[i]!] ?? null, reason: this.reasons.get(i) ?? null, checked_at: f & AT ? this.at[i]! : null, checked_run: f & RUN ? this.runs[i]! : null };
  }

  /** When entry i's content last matched, if its record is good in `epoch` (else null). */
  goodCheckAt(i: number, epoch: bigint): bigint | null {
    const f = this.flags[i] ?? 0;
    return f & HAS && f & OK && f & AT && this.epochs[i] === epoch ? this.at[i]! : null;
  }

  private grow(n: number): void {
    let size = this.flags.length;
    while (size < n) size *= 2;
    const copy = <T extends Uint8Array | Uint16Array | BigInt64Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a as never);
      return b;
    };
    this.flags = copy(this.flags, (k) => new Uint8Array(k));
    this.epochs = copy(this.epochs, (k) => new BigInt64Array(k));
    this.at = copy(this.at, (k) => new BigInt64Array(k));
    this.runs = copy(this.runs, (k) => new BigInt64Array(k));
    this.methodIx = copy(this.methodIx, (k) => new Uint16Array(k));
  }
}

interface Row {
  path: string;
  size: bigint;
  mtime_ns: bigint;
  status: "present" | "offloaded";
  content_id: bigint;
  blake3: string;
  origin_node: string;
  origin_run: bigint;
  status_changed_run: bigint;
  epoch: bigint | null;
  ok: bigint | null;
  method: string | null;
  reason: string | null;
  checked_at: bigint | null;
  checked_run: bigint | null;
}

/**
 * Every `present` or `offloaded` row of `volume` in path order (the manifest), with its row's
 * status_changed_run and its object record at `destination`, read through one cursor (a single
 * statement: one consistent snapshot). Repeated values (origin nodes and runs) share one copy.
 */
export function manifestWithChecks(db: Db, destination: string, volume: string): { manifest: ManifestEntry[]; changedRuns: bigint[]; checks: AlignedChecks } {
  const manifest: ManifestEntry[] = [];
  const changedRuns: bigint[] = [];
  const checks = new AlignedChecks();
  const nodes = new Map<string, string>();
  const runs = new Map<bigint, bigint>();
  const share = <K, V extends K>(m: Map<K, V>, v: V): V => {
    const s = m.get(v);
    if (s !== undefined) return s;
    m.set(v, v);
    return v;
  };
  const rows = db.iterate<Row>(
    `SELECT f.path, f.size, f.mtime_ns, f.status, f.content_id, c.blake3, c.origin_node, c.origin_run, f.status_changed_run,
            o.epoch, o.ok, o.method, o.reason, o.checked_at, o.checked_run
     FROM files f JOIN content c ON c.id = f.content_id
     LEFT JOIN dest_objects o ON o.destination = ? AND o.volume = f.volume AND o.path = f.path AND o.content_id = f.content_id
     WHERE f.volume = ? AND f.status <> 'superseded' AND f.status IN ('present', 'offloaded') ORDER BY f.path`, // "<> 'superseded'": the partial index files_live, in path order
    destination,
    volume,
  );
  for (const r of rows) {
    const i = manifest.length;
    manifest.push({ path: r.path, size: Number(r.size), mtimeNs: r.mtime_ns, blake3: r.blake3, contentId: r.content_id, originNode: share(nodes, r.origin_node), originRun: share(runs, r.origin_run), status: r.status === "present" ? "present" : "offloaded", recheck: false }); // recheck in the literal: planRechecks sets it on every entry
    changedRuns.push(share(runs, r.status_changed_run));
    checks.set(i, r.epoch === null ? undefined : { epoch: r.epoch, ok: r.ok!, method: r.method, reason: r.reason, checked_at: r.checked_at, checked_run: r.checked_run });
  }
  return { manifest, changedRuns, checks };
}
