// The restic destination handler: explicit init, identity from the repository id (`cat config`), push
// as a tagged snapshot of the manifest's present files whose stored bytes are read back into BLAKE3
// (check.ts), scoped receipts, live confirm, fetch by `dump`, catalogs.

import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import type { Capabilities, DestinationHandler, Identity, OpenContext, PluginApi } from "hoard/plugin";
import { resticCatalogs } from "./catalogs.ts";
import { check, confirm, cursor, METHOD_BLAKE3 } from "./check.ts";
import { errorText } from "./exec.ts";
import { loadState } from "./receipts.ts";
import { HOST, resticRepository, TAG, type ResticConfig } from "./repository.ts";

export type { ResticConfig } from "./repository.ts";

export function openRestic(api: PluginApi, o: ResticConfig, octx: OpenContext): DestinationHandler {
  const { failure } = api.util.errors;
  const rr = resticRepository(api, o, octx);
  const { r, name, repo, stateDir, ensure } = rr;

  return {
    async capabilities(): Promise<Capabilities> {
      return { methods: [METHOD_BLAKE3], warnings: [], facts: { repository: repo, binary: r.binary, host: HOST, tag: TAG } };
    },

    async init(): Promise<Identity> {
      return { id: await rr.create(), detail: `restic repository at ${repo}` };
    },

    async identify() {
      const id = await rr.identify();
      return id === "uninitialised" ? "uninitialised" : { id, detail: `restic repository at ${repo}` };
    },

    async push(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      const snaps = await rr.snapshots(ctx.volume, ctx.signal);
      ctx.progress({ phase: "restic backup", done: 0, total: manifest.length });
      const made = await rr.backup(manifest, ctx, snaps[0]?.id);
      return check(api, rr, manifest, ctx, repoId, snaps, made, true);
    },

    async verify(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      const snaps = await rr.snapshots(ctx.volume, ctx.signal);
      return check(api, rr, manifest, ctx, repoId, snaps, undefined, false); // verify reads everything
    },

    confirm: (entries, ctx, depth) => confirm(rr, entries, ctx, depth),

    async fetch(entry, targetPath, ctx) {
      const repoId = await ensure(ctx.signal);
      const root = ctx.volumeRoot.replace(/\/+$/, "");
      const snaps = await rr.snapshots(ctx.volume, ctx.signal);
      const st = loadState(stateDir, ctx.volume, repoId, "");
      const c = cursor(entry, snaps, rr.lister(root, ctx.signal), st);
      const notes: string[] = [];
      for (let f = await c.next(); f; f = await c.next()) {
        const fd = openSync(targetPath, "wx", 0o600);
        const h = ctx.blake3Stream();
        let res;
        try {
          res = await r.run(["dump", f.snap, `${root}/${entry.path}`], {
            signal: ctx.signal,
            onData: (b) => {
              h.update(b);
              for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
            },
          });
          if (res.code === 0) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (res.code === 0 && h.digestHex() === entry.blake3) return;
        rmSync(targetPath, { force: true });
        if (ctx.signal.aborted) throw failure("aborted", `fetch of ${entry.path} from restic was interrupted`);
        notes.push(res.code === 0 ? `snapshot ${f.snap.slice(0, 8)} holds other content` : `snapshot ${f.snap.slice(0, 8)}: ${errorText(res)}`);
      }
      throw failure("restic_fetch_failed", `no restic snapshot of ${root} could give back ${entry.path} (destination ${name})${notes.length || c.notes.length ? `: ${[...notes, ...c.notes].slice(0, 3).join("; ")}` : ""}`);
    },

    ...resticCatalogs(api, r, { dest: name, stateDir, host: HOST, ensure, failed: rr.failed }),
  };
}
