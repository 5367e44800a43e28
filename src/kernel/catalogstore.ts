// Rules every destination that stores catalogs as its own objects shares (api.util.catalogs): a
// name is checked before use, a stored name is never replaced, and reading picks the copy whose bytes match.

import { failure } from "./errors.ts";
import { streamHasher } from "./hash.ts";
import { CATALOG_NAME_RE, isCatalogName } from "./catalog.ts";
import type { PluginUtil } from "./plugin.ts";

/** Throws bad_catalog_name unless `name` is a catalog name (`<20 digits>-<BLAKE3 hex>.hcat`). */
export function checkCatalogName(dest: string, name: string): void {
  if (!CATALOG_NAME_RE.test(name)) throw failure("bad_catalog_name", `${dest}: not a catalog name: ${JSON.stringify(name)}`);
}

const hex = (b: Uint8Array) => {
  const h = streamHasher();
  h.update(b);
  return h.digestHex();
};

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * The bytes stored under `name`, given the copies a store holds of it (a name may be written twice
 * after a race): of the first copy whose bytes hash to the name, else of the first readable one
 * (the caller refuses that with bad_hash). catalog_missing without copies; catalog_read (with
 * `hint`) when none could be read. `read` returns a copy's bytes or a note why it could not.
 */
export async function readCatalogCopies<T>(o: { dest: string; volume: string; name: string; copies: readonly T[]; read(copy: T): Promise<Uint8Array | { error: string }>; hint: string }): Promise<Uint8Array> {
  checkCatalogName(o.dest, o.name);
  if (o.copies.length === 0) throw failure("catalog_missing", `${o.dest}: catalog ${o.name} of ${o.volume} is not there`);
  const want = CATALOG_NAME_RE.exec(o.name)![2];
  let first: Uint8Array | undefined;
  const notes: string[] = [];
  for (const c of o.copies) {
    const r = await o.read(c);
    if (!(r instanceof Uint8Array)) {
      notes.push(r.error);
      continue;
    }
    if (hex(r) === want) return r;
    first ??= r;
  }
  if (first) return first;
  throw failure("catalog_read", `${o.dest}: cannot read catalog ${o.name} of ${o.volume}: ${notes.slice(0, 3).join("; ")}`, o.hint);
}

/**
 * putCatalog's never-replace rule where a store cannot refuse an existing name itself: false when
 * `name` is free (write it); true when it is already stored with these very bytes (nothing to do);
 * catalog_name_taken (with `hint`, how to remove a damaged one by hand) when it holds other bytes.
 */
export async function catalogAlreadyStored(o: { dest: string; name: string; bytes: Uint8Array; stored: boolean; read(): Promise<Uint8Array>; hint: string }): Promise<boolean> {
  if (!o.stored) return false;
  if (!same(await o.read(), o.bytes)) throw failure("catalog_name_taken", `${o.dest}: catalog ${o.name} already exists there with other bytes; it is not replaced`, o.hint);
  return true;
}

/** The rules as plugins get them (api.util.catalogs). */
export const catalogRules: PluginUtil["catalogs"] = { isName: isCatalogName, checkName: checkCatalogName, read: readCatalogCopies, alreadyStored: catalogAlreadyStored };
