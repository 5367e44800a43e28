// The per-destination, per-volume catalog in the destination's state directory: which snapshot last
// held each (path, BLAKE3) verified, and which kopia object ids were read back and BLAKE3-matched.

import { mkdirSync, readFileSync, renameSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface Holder {
  /** BLAKE3 of the content this record is about. */
  b3: string;
  /** Snapshot manifest id that held it when it was last verified. */
  snap: string;
  /** kopia object id of the file in that snapshot. */
  obj: string;
}

export interface Catalog {
  version: 1;
  /** The repository's unique id: a catalog of another repository is ignored. */
  repository: string;
  files: Record<string, Holder>;
  /** Object id → BLAKE3 of the bytes read back from it. Object ids are content-addressed, so this stays true. */
  confirmed: Record<string, string>;
}

const fileOf = (stateDir: string, volume: string) => join(stateDir, `catalog-${encodeURIComponent(volume)}.json`);

/** A hint only: everything in it is re-checked against the repository before it is used. */
export function loadCatalog(stateDir: string, volume: string, repository: string): Catalog {
  const empty: Catalog = { version: 1, repository, files: {}, confirmed: {} };
  try {
    const c = JSON.parse(readFileSync(fileOf(stateDir, volume), "utf8"));
    if (c?.version !== 1 || c.repository !== repository || typeof c.files !== "object" || typeof c.confirmed !== "object") return empty;
    return { version: 1, repository, files: c.files ?? {}, confirmed: c.confirmed ?? {} };
  } catch {
    return empty;
  }
}

export function saveCatalog(stateDir: string, volume: string, c: Catalog): void {
  mkdirSync(stateDir, { recursive: true });
  const p = fileOf(stateDir, volume);
  const tmp = `${p}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(c));
    renameSync(tmp, p);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
