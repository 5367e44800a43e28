// Writing a volume's catalog at a destination after a sync or verify: encoded once, skipped when the
// rows are the same as the last catalog written there (a hash in `meta`) and that one is still listed.

import type { Db } from "./db.ts";
import type { DestinationHandler, HandlerContext, Logger } from "./plugin.ts";
import { CATALOG_FORMAT, encodeCatalogRows, rowsDigest, type CatalogRow } from "./catalog.ts";
import { nodeKey } from "./keys.ts";
import { nowNs } from "./runtime.ts";
import pkg from "../../package.json" with { type: "json" };

/** What a run did about the catalog: written now, or the last one kept because the rows are the same. */
export interface CatalogResult {
  name: string;
  rows: number;
  written: boolean;
  /** Time spent on the catalog (encoding, hashing, listing, writing), in milliseconds. */
  ms: number;
}

/** Evidence results of a run after which a catalog is written (evidence advanced or content-checked). */
export const CATALOG_AFTER = new Set(["advanced", "reverified", "refreshed"]);

export const catalogMetaKey = (destination: string, volume: string): string => `catalog:${destination}:${volume}`;

interface LastCatalog {
  hash: string;
  name: string;
  rows: number;
}

/**
 * Write the catalog of `rows` (the volume's live rows whose object record at the destination is ok
 * in the current epoch) through the handler, unless it is the same as the last one written there.
 * Never throws: a failure is a warning on the run (ctx.warn) and gives null; so does a handler that
 * stores no catalogs (with one debug line).
 */
export async function writeCatalog(
  k: { db: Db; dataDir: string; node: string; log: Logger },
  o: { destination: string; volume: string; runId: bigint; epoch: bigint; handler: DestinationHandler; ctx: HandlerContext; rows: readonly CatalogRow[] },
): Promise<CatalogResult | null> {
  const { handler, destination, volume } = o;
  if (!handler.putCatalog) {
    k.log.debug(`${destination}: no catalog of ${volume} written (this destination type stores no catalogs)`);
    return null;
  }
  const t0 = performance.now();
  try {
    // the same rows at the same pinned identity and epoch: the last catalog still describes them
    const pin = k.db.get<{ identity: string; epoch: bigint }>("SELECT identity, epoch FROM destinations WHERE name = ?", destination);
    const hash = rowsDigest(o.rows, JSON.stringify([CATALOG_FORMAT, destination, volume, pin?.identity ?? "", String(o.epoch)]));
    const key = catalogMetaKey(destination, volume);
    const last = readLast(k.db, key);
    if (last && last.hash === hash) {
      // ... provided it is still there (a catalog removed by hand is written again)
      const names = handler.listCatalogs ? await handler.listCatalogs(volume).catch(() => undefined) : undefined;
      if (names?.includes(last.name)) return { name: last.name, rows: o.rows.length, written: false, ms: performance.now() - t0 };
    }
    const { name, bytes } = encodeCatalogRows(
      { format: CATALOG_FORMAT, volume, node: k.node, destination, runId: o.runId, createdAt: nowNs(), hoardVersion: pkg.version },
      o.rows,
      nodeKey(k.dataDir),
    );
    await handler.putCatalog(volume, name, bytes, o.ctx);
    k.db.run("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, JSON.stringify({ hash, name, rows: o.rows.length } satisfies LastCatalog));
    const ms = performance.now() - t0;
    k.log.debug(`${destination}: catalog ${name} of ${volume} written (${o.rows.length} rows, ${bytes.length} bytes, ${ms.toFixed(0)} ms)`);
    return { name, rows: o.rows.length, written: true, ms };
  } catch (e) {
    o.ctx.warn(`${destination}: the catalog of ${volume} was not written: ${(e as Error)?.message ?? e} (the run's evidence stands; a later sync or verify writes it)`);
    return null;
  }
}

function readLast(db: Db, key: string): LastCatalog | undefined {
  const v = db.get<{ value: string }>("SELECT value FROM meta WHERE key = ?", key)?.value;
  if (!v) return undefined;
  try {
    const j = JSON.parse(v);
    return typeof j?.hash === "string" && typeof j?.name === "string" ? j : undefined;
  } catch {
    return undefined;
  }
}
