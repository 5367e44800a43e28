// hoard's signed catalogs stored in a kopia repository (not catalog.ts, the local per-volume state):
// each one a pinned snapshot of a single file NAME, tagged hoard-catalog:VOLUME, read back by `kopia show`.

import { randomUUID } from "node:crypto";
import { closeSync, constants, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import type { DestinationHandler, PluginApi } from "../../src/kernel/plugin.ts";
import { errorText, type Kopia } from "./exec.ts";
import { parseCreateOutput, type Snapshot } from "./listing.ts";

/** `--tags hoard-catalog:VOLUME`: kopia stores it as "tag:hoard-catalog" → VOLUME. */
export const CATALOG_TAG = "hoard-catalog";
/** As isCatalogName in the kernel: `<time, 20 digits>-<BLAKE3 hex>.hcat`. */
const NAME_RE = /^(\d{20})-([0-9a-f]{64})\.hcat$/;

type CatalogMethods = Required<Pick<DestinationHandler, "putCatalog" | "listCatalogs" | "getCatalog">>;

interface CatalogSnap {
  snap: Snapshot;
  name: string;
}

export function kopiaCatalogs(
  api: PluginApi,
  k: Kopia,
  o: { dest: string; stateDir: string; pin: string; reachHint: string; ensure(signal?: AbortSignal): Promise<string>; listSnapshots(signal?: AbortSignal): Promise<Snapshot[]> },
): CatalogMethods {
  const { failure } = api.util.errors;
  const { dest } = o;
  const checkVolume = (volume: string) => {
    if (volume === "" || volume.includes("/")) throw failure("bad_volume_name", `${dest}: not a volume name: ${JSON.stringify(volume)}`);
  };
  const checkName = (name: string) => {
    if (!NAME_RE.test(name)) throw failure("bad_catalog_name", `${dest}: not a catalog name: ${JSON.stringify(name)}`);
  };

  /** The catalog snapshots of `volume`, newest first (a name may appear twice after a race). */
  async function snaps(volume: string, signal?: AbortSignal): Promise<CatalogSnap[]> {
    checkVolume(volume);
    await o.ensure(signal);
    const out: CatalogSnap[] = [];
    for (const s of await o.listSnapshots(signal)) {
      if (s.tags[`tag:${CATALOG_TAG}`] !== volume || s.incomplete || s.rootType !== "f") continue;
      const name = NAME_RE.test(s.rootName) ? s.rootName : basename(s.sourcePath);
      if (NAME_RE.test(name)) out.push({ snap: s, name });
    }
    return out.sort((a, b) => (a.snap.startNs > b.snap.startNs ? -1 : a.snap.startNs < b.snap.startNs ? 1 : a.snap.id < b.snap.id ? -1 : 1));
  }

  /** The bytes stored under `name`: of the first snapshot whose bytes hash to the name, else of the first readable one. */
  async function get(volume: string, name: string, signal?: AbortSignal, known?: CatalogSnap[]): Promise<Uint8Array> {
    checkName(name);
    const all = (known ?? (await snaps(volume, signal))).filter((c) => c.name === name);
    if (all.length === 0) throw failure("catalog_missing", `${dest}: catalog ${name} of ${volume} is not there`);
    const want = NAME_RE.exec(name)![2];
    let first: Buffer | undefined;
    const notes: string[] = [];
    for (const c of all) {
      const r = await k.run(["show", c.snap.rootObj, ...k.common()], { signal });
      if (r.code !== 0) {
        notes.push(`snapshot ${c.snap.id}: ${errorText(r)}`);
        continue;
      }
      const h = api.util.blake3Stream();
      h.update(r.stdout);
      if (h.digestHex() === want) return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
      first ??= r.stdout;
    }
    if (first) return new Uint8Array(first.buffer, first.byteOffset, first.byteLength); // the caller refuses it (bad_hash)
    throw failure("catalog_read", `${dest}: cannot read catalog ${name} of ${volume}: ${notes.slice(0, 3).join("; ")}`, o.reachHint);
  }

  return {
    async putCatalog(volume, name, bytes, ctx) {
      checkName(name);
      const signal = ctx.signal;
      const have = await snaps(volume, signal);
      // never replaced: a name already there must hold these very bytes
      if (have.some((c) => c.name === name)) {
        const old = await get(volume, name, signal, have);
        if (Buffer.compare(old, bytes) !== 0) throw failure("catalog_name_taken", `${dest}: catalog ${name} already exists there with other bytes; it is not replaced`, "delete that snapshot by hand (`kopia snapshot delete`) if it is damaged");
        return;
      }
      // kopia snapshots the file itself (a single-file source): its root entry is the catalog, named NAME
      const dir = join(o.stateDir, "catalogs-out", randomUUID());
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        const file = join(dir, name);
        const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
        try {
          for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        // pinned: kopia's retention never expires it (hoard keeps every catalog)
        const r = await k.run(["snapshot", "create", file, "--json", "--pin", o.pin, "--tags", `${CATALOG_TAG}:${volume}`, "--description", `hoard catalog of ${volume}`, ...k.common()], { signal });
        if (signal.aborted) throw failure("aborted", `the catalog ${name} of ${volume} was not written: interrupted`);
        const snap = parseCreateOutput(r.stdout.toString("utf8"));
        if (r.code !== 0 || !snap) throw failure("catalog_write", `${dest}: kopia snapshot create of catalog ${name} failed: ${r.code !== 0 ? errorText(r) : "it printed no snapshot"}`, o.reachHint);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async listCatalogs(volume) {
      return [...new Set((await snaps(volume)).map((c) => c.name))];
    },
    getCatalog: (volume, name) => get(volume, name),
  };
}
