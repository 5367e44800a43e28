// hoard's signed catalogs stored in a kopia repository (not catalog.ts, the local per-volume state):
// each one a pinned snapshot of a single file NAME, tagged hoard-catalog:VOLUME, read back by `kopia show`.

import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { DestinationHandler, PluginApi } from "../../src/kernel/plugin.ts";
import { errorText, type Kopia } from "./exec.ts";
import { parseCreateOutput, type Snapshot } from "./listing.ts";

/** `--tags hoard-catalog:VOLUME`: kopia stores it as "tag:hoard-catalog" → VOLUME. */
export const CATALOG_TAG = "hoard-catalog";

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

  /** The catalog snapshots of `volume`, newest first (a name may appear twice after a race). */
  async function snaps(volume: string, signal?: AbortSignal): Promise<CatalogSnap[]> {
    checkVolume(volume);
    await o.ensure(signal);
    const out: CatalogSnap[] = [];
    for (const s of await o.listSnapshots(signal)) {
      if (s.tags[`tag:${CATALOG_TAG}`] !== volume || s.incomplete || s.rootType !== "f") continue;
      const name = api.util.catalogs.isName(s.rootName) ? s.rootName : basename(s.sourcePath);
      if (api.util.catalogs.isName(name)) out.push({ snap: s, name });
    }
    return out.sort((a, b) => (a.snap.startNs > b.snap.startNs ? -1 : a.snap.startNs < b.snap.startNs ? 1 : a.snap.id < b.snap.id ? -1 : 1));
  }

  /** The bytes stored under `name` (api.util.catalogs.read: the copy whose bytes hash to the name first). */
  async function get(volume: string, name: string, signal?: AbortSignal, known?: CatalogSnap[]): Promise<Uint8Array> {
    api.util.catalogs.checkName(dest, name);
    return api.util.catalogs.read({
      dest,
      volume,
      name,
      copies: (known ?? (await snaps(volume, signal))).filter((c) => c.name === name),
      hint: o.reachHint,
      read: async (c) => {
        const r = await k.run(["show", c.snap.rootObj, ...k.common()], { signal });
        return r.code !== 0 ? { error: `snapshot ${c.snap.id}: ${errorText(r)}` } : new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
      },
    });
  }

  return {
    async putCatalog(volume, name, bytes, ctx) {
      api.util.catalogs.checkName(dest, name);
      const signal = ctx.signal;
      const have = await snaps(volume, signal);
      const stored = have.some((c) => c.name === name);
      const hint = "delete that snapshot by hand (`kopia snapshot delete`) if it is damaged";
      if (await api.util.catalogs.alreadyStored({ dest, name, bytes, stored, read: () => get(volume, name, signal, have), hint })) return;
      // kopia snapshots the file itself (a single-file source): its root entry is the catalog, named NAME
      const dir = join(o.stateDir, "catalogs-out", randomUUID());
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        const file = join(dir, name);
        await api.util.writeFileAtomic(file, bytes, { replace: false, mode: 0o600 });
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
