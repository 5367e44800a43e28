// Catalogs at a restic destination: each one its own small snapshot (tags `hoard-catalog` and
// `volume:V`, host `hoard`) holding the single file /NAME; listed by tag, read back with `restic dump`.

import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { DestinationHandler, PluginApi } from "hoard/plugin";
import { errorText, type Restic } from "./exec.ts";
import { parseGoTime, parseSummary } from "./listing.ts";

/** Every catalog snapshot carries this tag (and not `hoard`, so no data listing ever sees one). */
export const CATALOG_TAG = "hoard-catalog";

type CatalogMethods = Required<Pick<DestinationHandler, "putCatalog" | "listCatalogs" | "getCatalog">>;
type Res = Awaited<ReturnType<Restic["run"]>>;

interface CatalogSnap {
  id: string;
  name: string;
  timeNs: bigint;
}

export function resticCatalogs(
  api: PluginApi,
  r: Restic,
  o: { dest: string; stateDir: string; host: string; ensure(signal?: AbortSignal): Promise<string>; failed(what: string, res: Res): Error },
): CatalogMethods {
  const { failure } = api.util.errors;
  const { dest } = o;
  const volTag = (volume: string) => {
    // a restic --tag value is split at commas; hoard's volume names have none, but say so if one does
    if (volume === "" || /[,/\s]/.test(volume)) throw failure("bad_volume_name", `${dest}: not a volume name: ${JSON.stringify(volume)}`);
    return `volume:${volume}`;
  };

  /** The catalog snapshots of `volume`, newest first (a name may appear twice after a race). */
  async function snaps(volume: string, signal?: AbortSignal): Promise<CatalogSnap[]> {
    const tag = volTag(volume);
    await o.ensure(signal);
    const res = await r.run(["snapshots", "--json", "--no-lock", "--tag", CATALOG_TAG], { signal, toFile: true });
    if (res.code !== 0) throw o.failed("restic snapshots (catalogs)", res);
    let arr: unknown;
    try {
      arr = JSON.parse(res.stdout.trim() || "[]");
    } catch {}
    if (!Array.isArray(arr)) throw failure("restic_output", `restic snapshots --json (destination ${dest}) printed something unexpected`);
    const out: CatalogSnap[] = [];
    for (const x of arr as any[]) {
      if (typeof x?.id !== "string" || !/^[0-9a-f]{64}$/.test(x.id)) continue;
      const tags: string[] = Array.isArray(x.tags) ? x.tags.map(String) : [];
      if (!tags.includes(CATALOG_TAG) || !tags.includes(tag)) continue;
      if (!Array.isArray(x.paths) || x.paths.length !== 1 || typeof x.paths[0] !== "string") continue;
      const name = basename(x.paths[0]);
      if (!api.util.catalogs.isName(name)) continue;
      out.push({ id: x.id, name, timeNs: (typeof x.time === "string" && parseGoTime(x.time)) || 0n });
    }
    return out.sort((a, b) => (a.timeNs > b.timeNs ? -1 : a.timeNs < b.timeNs ? 1 : a.id < b.id ? -1 : 1));
  }

  async function dump(snap: CatalogSnap, signal?: AbortSignal): Promise<{ ok: true; bytes: Buffer } | { ok: false; error: string }> {
    const chunks: Buffer[] = [];
    const res = await r.run(["dump", "--no-lock", snap.id, `/${snap.name}`], { signal, onData: (c) => void chunks.push(Buffer.from(c)) });
    if (res.code !== 0) {
      if (/wrong password|already locked|unable to create lock/i.test(res.stderr)) throw o.failed("restic dump (catalog)", res);
      return { ok: false, error: `snapshot ${snap.id.slice(0, 8)}: ${errorText(res)}` };
    }
    return { ok: true, bytes: Buffer.concat(chunks) };
  }

  /** The bytes stored under `name` (api.util.catalogs.read: the copy whose bytes hash to the name first). */
  async function get(volume: string, name: string, signal?: AbortSignal, known?: CatalogSnap[]): Promise<Uint8Array> {
    api.util.catalogs.checkName(dest, name);
    return api.util.catalogs.read({
      dest,
      volume,
      name,
      copies: (known ?? (await snaps(volume, signal))).filter((s) => s.name === name),
      hint: "check that the repository is reachable (`restic check` finds damage)",
      read: async (s) => {
        const d = await dump(s, signal);
        return d.ok ? new Uint8Array(d.bytes.buffer, d.bytes.byteOffset, d.bytes.byteLength) : { error: d.error };
      },
    });
  }

  return {
    async putCatalog(volume, name, bytes, ctx) {
      api.util.catalogs.checkName(dest, name);
      const signal = ctx.signal;
      const have = await snaps(volume, signal);
      const stored = have.some((s) => s.name === name);
      const hint = "forget that snapshot by hand (`restic forget`) if it is damaged";
      if (await api.util.catalogs.alreadyStored({ dest, name, bytes, stored, read: () => get(volume, name, signal, have), hint })) return;
      // restic reads the bytes from a private directory holding only this file, named by a path
      // relative to it: the snapshot's tree is then exactly /NAME (as with --stdin-filename)
      const dir = join(o.stateDir, `catalog-${randomUUID()}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        await api.util.writeFileAtomic(join(dir, name), bytes, { replace: false, mode: 0o600 });
        const res = await r.run(["backup", "--json", "--host", o.host, "--tag", CATALOG_TAG, "--tag", volTag(volume), name], { signal, cwd: dir });
        if (signal.aborted) throw failure("aborted", `the catalog ${name} of ${volume} was not written: interrupted`);
        const summary = parseSummary(res.stdout);
        if (res.code !== 0 || !summary) throw o.failed(`restic backup of catalog ${name}`, res);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async listCatalogs(volume) {
      return [...new Set((await snaps(volume)).map((s) => s.name))];
    },
    getCatalog: (volume, name) => get(volume, name),
  };
}
