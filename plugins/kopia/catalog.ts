// The per-destination, per-volume catalog in hoard's local state: which snapshot last held each
// (path, BLAKE3) checked (a hint), and receipts: kopia object ids whose bytes were read back into a BLAKE3.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PluginUtil } from "../../src/kernel/plugin.ts";

export interface Holder {
  /** BLAKE3 of the content this record is about. */
  b3: string;
  /** Snapshot manifest id that held it when it was last checked. */
  snap: string;
  /** kopia object id of the file in that snapshot. */
  obj: string;
}

/** A content check of one kopia object: its bytes, read back, had BLAKE3 `b3` at `at` (ns). */
export interface Receipt {
  b3: string;
  at: bigint;
}

export interface Catalog {
  version: 2;
  /** The repository's unique id: a catalog of another repository is ignored. */
  repository: string;
  /** Where each path's content was last found and checked: only orders the snapshots to look in. */
  files: Record<string, Holder>;
  /** The HandlerContext.receiptScope the receipts were made under ("" = none). */
  scope: string;
  /** Object id → receipt. Valid only while `scope` equals the run's receiptScope. */
  receipts: Map<string, Receipt>;
}

const fileOf = (stateDir: string, volume: string) => join(stateDir, `catalog-${encodeURIComponent(volume)}.json`);

/** Usable receipt scopes: a context without one (an older kernel) gets no receipts at all. */
export const scopeOf = (s: unknown): string => (typeof s === "string" ? s : "");

/**
 * The catalog of a volume. Receipts stamped with another scope than `scope` (or made before
 * scopes existed) are dropped here, so nothing downstream can see them; holders are only hints.
 */
export function loadCatalog(stateDir: string, volume: string, repository: string, scope: string): Catalog {
  const empty: Catalog = { version: 2, repository, files: {}, scope, receipts: new Map() };
  let c: any;
  try {
    c = JSON.parse(readFileSync(fileOf(stateDir, volume), "utf8"));
  } catch {
    return empty;
  }
  if ((c?.version !== 1 && c?.version !== 2) || c.repository !== repository || typeof c.files !== "object" || c.files === null) return empty;
  const files: Record<string, Holder> = {};
  for (const [p, h] of Object.entries<any>(c.files)) if (typeof h?.b3 === "string" && typeof h.snap === "string" && typeof h.obj === "string") files[p] = { b3: h.b3, snap: h.snap, obj: h.obj };
  const receipts = new Map<string, Receipt>();
  if (c.version === 2 && scope !== "" && c.scope === scope && typeof c.receipts === "object" && c.receipts !== null)
    for (const [obj, r] of Object.entries<any>(c.receipts))
      if (typeof r?.b3 === "string" && typeof r.at === "string" && /^\d+$/.test(r.at)) receipts.set(obj, { b3: r.b3, at: BigInt(r.at) });
  return { version: 2, repository, files, scope, receipts };
}

/** Write the catalog atomically (api.util.writeFileAtomic: temp, fsync, rename, directory fsync). */
export async function saveCatalog(write: PluginUtil["writeFileAtomic"], stateDir: string, volume: string, c: Catalog): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const receipts: Record<string, { b3: string; at: string }> = {};
  if (c.scope !== "") for (const [obj, r] of c.receipts) receipts[obj] = { b3: r.b3, at: String(r.at) };
  await write(fileOf(stateDir, volume), JSON.stringify({ version: 2, repository: c.repository, files: c.files, scope: c.scope, receipts }), { mode: 0o600 });
}
