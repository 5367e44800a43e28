// Choosing the catalog `recover` rebuilds from: the destination's catalogs of a volume, newest first, until
// one decodes, is well formed (every row a path hoard could have written) and is signed by a trusted key.

import { refused, HoardError } from "../kernel/errors.ts";
import { splitRel } from "../kernel/anchored.ts";
import { VOLUME_MARKER } from "../kernel/volumes.ts";
import { CATALOG_FORMAT, decodeCatalog, type Catalog, type CatalogRow } from "../kernel/catalog.ts";
import { fingerprintOf } from "../kernel/keys.ts";
import type { OpContext } from "./context.ts";
import { openDestination } from "./dest-open.ts";
import type { RefusedCatalog } from "./recover.ts";

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const HEX64 = /^[0-9a-f]{64}$/;

/** A catalog row path hoard could have written: relative, "/"-separated, no empty, "." or ".." parts. */
function badRow(r: CatalogRow): string | undefined {
  if (typeof r?.path !== "string" || r.path === "" || r.path.startsWith("/") || r.path.includes("\0")) return `bad path ${JSON.stringify(r?.path)}`;
  try {
    splitRel(r.path);
  } catch {
    return `bad path ${JSON.stringify(r.path)}`;
  }
  if (r.path.split("/")[0] === ".hoard" || r.path === VOLUME_MARKER) return `reserved path ${JSON.stringify(r.path)}`;
  if (typeof r.blake3 !== "string" || !HEX64.test(r.blake3)) return `bad BLAKE3 for ${r.path}`;
  if (!Number.isSafeInteger(r.size) || r.size < 0) return `bad size for ${r.path}`;
  const m: unknown = r.mtimeNs;
  if (typeof m === "number" && Number.isSafeInteger(m)) r.mtimeNs = BigInt(m);
  else if (typeof m === "string" && /^-?\d{1,30}$/.test(m)) r.mtimeNs = BigInt(m);
  else if (typeof m !== "bigint") return `bad mtime for ${r.path}`;
  if (r.status !== "present" && r.status !== "offloaded") return `bad status for ${r.path}`;
  return undefined;
}

/** Who vouches for a signer: this node, a config [nodes.NAME], or --trust; undefined when nobody. */
function trustOf(ctx: OpContext, publicKey: string, fingerprint: string, mine: string, trust: Set<string>): string | undefined {
  const pk = publicKey.toLowerCase();
  if (pk === mine) return "this node";
  for (const n of Object.values(ctx.config.nodes ?? {})) if (n.public_key.toLowerCase() === pk) return `node ${n.name} (config)`;
  if (trust.has(fingerprint.toLowerCase())) return "--trust";
  return undefined;
}

export const normFpr = (f: string) => {
  const s = f.trim().toLowerCase();
  return s.startsWith("hoard:") ? s : `hoard:${s}`;
};

/** Read the catalogs of `volume`, newest first, until one is valid and trusted. */
export async function pickCatalog(ctx: OpContext, from: string, volume: string, trust: Set<string>, mine: string) {
  const h = openDestination(ctx, from).handler;
  const refusedCats: RefusedCatalog[] = [];
  let names: string[];
  try {
    names = [...(await h.listCatalogs!(volume))].sort().reverse(); // names start with the time: newest first
  } catch (e) {
    return { refusedCats: [{ name: "(listing)", code: "list_failed", reason: `cannot list catalogs: ${errText(e)}`, fingerprint: null }], chosen: undefined };
  }
  for (const name of names) {
    let fingerprint: string | null = null;
    try {
      const bytes = await h.getCatalog!(volume, name);
      const d = decodeCatalog(name, bytes);
      fingerprint = d.fingerprint ?? fingerprintOf(d.publicKey);
      const c: Catalog = d.catalog;
      if (c.format !== CATALOG_FORMAT) throw refused("bad_format", `format ${JSON.stringify(c.format)}, expected ${CATALOG_FORMAT}`);
      if (c.volume !== volume) throw refused("wrong_volume", `it is a catalog of volume ${JSON.stringify(c.volume)}, found under ${volume}`);
      if (!Array.isArray(c.rows)) throw refused("bad_format", "no rows");
      const seen = new Set<string>();
      for (const r of c.rows) {
        const bad = badRow(r);
        if (bad) throw refused("bad_rows", bad);
        if (seen.has(r.path)) throw refused("bad_rows", `path ${JSON.stringify(r.path)} listed twice`);
        seen.add(r.path);
      }
      const signer = trustOf(ctx, d.publicKey, fingerprint, mine, trust);
      if (!signer)
        throw refused("untrusted_signer", `signed by an unknown key ${fingerprint} (node ${c.node})`, `if that machine is yours, add [nodes.${c.node}] public_key = "${d.publicKey}" to the config, or pass --trust ${fingerprint}`);
      return { refusedCats, chosen: { name, catalog: c, fingerprint, signer } };
    } catch (e) {
      const code = e instanceof HoardError ? e.code : "unreadable";
      if (fingerprint === null && e instanceof HoardError && typeof e.details?.fingerprint === "string") fingerprint = e.details.fingerprint;
      refusedCats.push({ name, code, reason: errText(e), fingerprint });
      ctx.log.warn(`${from}: catalog ${volume}/${name} refused (${code}): ${errText(e)}${fingerprint ? ` [${fingerprint}]` : ""}`);
    }
  }
  return { refusedCats, chosen: undefined };
}
