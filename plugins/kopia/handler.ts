// The kopia destination handler: explicit init, identity from the repository's unique id, push as a
// pinned snapshot of the volume root read back into BLAKE3 (check.ts), live confirm, fetch, catalogs.

import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import type { Capabilities, DestinationHandler, Identity, OpenContext, PluginApi } from "../../src/kernel/plugin.ts";
import { loadCatalog } from "./catalog.ts";
import { kopiaCatalogs } from "./catalogs.ts";
import { check, confirm, METHOD_BLAKE3, repairLost, type KopiaDest } from "./check.ts";
import { findBinary, INSTALL_KOPIA, kopiaRepository, mismatch, PIN, type KopiaConfig } from "./repository.ts";

export type { KopiaConfig } from "./repository.ts";

/**
 * What the plugin's sync:preflight listener needs from a handler it opened, found by the kopia
 * config file the handler reports in its capabilities (`facts.config_file`).
 */
export interface KopiaInternals {
  configFile: string;
  /** Connect if needed (never create) and check the connected repository is the one identify() showed. */
  ensure(signal?: AbortSignal): Promise<string>;
}

/** Open a kopia destination; `opened` (the plugin's own listener) learns how to connect and check it. */
export function openKopia(api: PluginApi, o: KopiaConfig, octx: OpenContext, opened?: (i: KopiaInternals) => void): DestinationHandler {
  const { failure } = api.util.errors;
  const kr = kopiaRepository(api, o, octx);
  const { k, name, repo, stateDir, reachHint, ensure, listSnapshots } = kr;
  const d: KopiaDest = { api, kr, verifyFilesPercent: o.verify_files_percent };
  const literalWarning = o.password.literal
    ? `destinations.${name}.password is written literally in the config file: make sure nobody else can read that file (chmod 600), or use password = { env = "VAR" }`
    : undefined;

  const handler: DestinationHandler = {
    async capabilities(): Promise<Capabilities> {
      const warnings = literalWarning ? [literalWarning] : [];
      if (!findBinary(k.binary, octx.env.PATH)) warnings.push(`kopia binary ${k.binary} not found${k.binary.includes("/") ? "" : " on PATH"}: ${INSTALL_KOPIA}, or set destinations.${name}.binary (or KOPIA_BIN)`);
      return {
        methods: [METHOD_BLAKE3],
        warnings,
        facts: { repository: repo, binary: k.binary, verify_files_percent: o.verify_files_percent, config_file: k.configFile, pin: PIN },
      };
    },

    async init(): Promise<Identity> {
      if (literalWarning) octx.log.warn(literalWarning);
      const id = await kr.create();
      return { id, detail: `kopia repository at ${repo}` };
    },

    async identify() {
      const id = await kr.identify();
      return id === "uninitialised" ? "uninitialised" : { id, detail: `kopia repository at ${repo}` };
    },

    async push(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      ctx.progress({ phase: "kopia snapshot", done: 0, total: manifest.length });
      const snap = await kr.snapshot(ctx, [], "");
      return check(d, manifest, ctx, repoId, snap, true, (unread) => repairLost(kr, ctx, unread, snap));
    },

    async verify(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      return check(d, manifest, ctx, repoId, undefined, false); // verify re-checks everything
    },

    confirm: (entries, ctx, depth) => confirm(kr, entries, ctx, depth),

    async fetch(entry, targetPath, ctx) {
      const repoId = await ensure(ctx.signal);
      const cat = loadCatalog(stateDir, ctx.volume, repoId, "");
      const snaps = await listSnapshots(ctx.signal);
      const h = cat.files[entry.path];
      const held = h && h.b3 === entry.blake3 ? snaps.find((s) => s.id === h.snap) : undefined;
      const order = [...(held ? [held] : []), ...kr.ofVolume(snaps, ctx).filter((s) => s !== held)];
      const notes: string[] = [];
      for (const s of order) {
        const l = await kr.listTree(s, ctx.signal);
        if (!l.ok) {
          notes.push(l.error);
          continue;
        }
        const it = l.items.get(entry.path);
        if (mismatch(entry, it) !== null) continue;
        const fd = openSync(targetPath, "wx", 0o600);
        let err: string | undefined;
        try {
          err = await kr.show(it!.obj, (b) => {
            for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
          }, ctx.signal);
          if (err === undefined) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (err === undefined) return;
        rmSync(targetPath, { force: true });
        notes.push(`snapshot ${s.id}: ${err}`);
      }
      throw failure("kopia_fetch_failed", `no kopia snapshot of ${ctx.volumeRoot} could give back ${entry.path} (destination ${name})${notes.length ? `: ${notes.slice(0, 3).join("; ")}` : ""}`);
    },

    ...kopiaCatalogs(api, k, { dest: name, stateDir, pin: PIN, reachHint, ensure, listSnapshots: (signal) => listSnapshots(signal ?? new AbortController().signal) }),
  };
  opened?.({ configFile: k.configFile, ensure });
  return handler;
}
