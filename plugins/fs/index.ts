// Built-in destination `fs`, a plain directory (the default that needs no external tool): its handler, from identity to fetch.
// Every access goes through anchored directory handles (src/kernel/anchored.ts); a push is in push.ts; receipts only spare re-reads.

import type { DestinationHandler, FileOutcome, HandlerContext, ManifestEntry, OpenContext, Plugin, PluginApi } from "hoard/plugin";
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { AnchorError, openRoot, type Dir } from "../../src/kernel/anchored.ts";
import { loadReceipts, saveReceipts } from "./receipts.ts";
import { fsCatalogs } from "./catalogs.ts";
import { buffer, CHUNK, EntryError, errText, failedOutcome, place, RD, refusal, yieldTurn, YIELD_EVERY, type FsDest } from "./common.ts";
import { Tree } from "./tree.ts";
import { checkOne, differs, readObject, statObject } from "./objects.ts";
import { pushBatches, type PushProbe } from "./push.ts";
import { initMarker, readMarker } from "./marker.ts";

export { DEST_MARKER, TEMP_PREFIX } from "./common.ts";

interface FsOptions {
  path: string;
}

/** The handler of one fs destination; `probe` observes the order of a push's durability steps (the tests). */
export function openFs(api: PluginApi, o: FsOptions, octx: Pick<OpenContext, "name" | "stateDir">, probe?: PushProbe): DestinationHandler {
  const root = o.path;
  const name = octx.name;
  const { failure } = api.util.errors;
  const d: FsDest = { api, name };

  /** The destination root's handle (its own path is trusted: it comes from the config). */
  function openDest(): Dir {
    try {
      return openRoot(root);
    } catch (e) {
      if (e instanceof AnchorError) throw failure("dest_missing", `destination directory ${root} cannot be opened: ${e.message}; is it mounted?`, `mount it, or fix destinations.${name}.path`);
      throw e;
    }
  }

  /** A tree of the destination: its root handle is the anchor; keys start with the volume name. */
  const destTree = (sweep: boolean) => new Tree(openDest(), sweep);
  const marker = { root, name, openDest, failure };

  /** Check every entry in place (until aborted) with the receipts loaded, saving them whatever happens; an entry not reached has no outcome. */
  async function verifyAll(manifest: ManifestEntry[], ctx: HandlerContext): Promise<FileOutcome[]> {
    const dst = destTree(false);
    const receipts = loadReceipts(octx.stateDir, ctx.volume, ctx.receiptScope);
    const out: FileOutcome[] = [];
    try {
      for (const e of manifest) {
        if (ctx.signal.aborted) break;
        try {
          out.push(await checkOne(d, dst, e, ctx, receipts, false));
        } catch (err: any) {
          if (ctx.signal.aborted && err?.name === "AbortError") break; // not reached: no outcome
          out.push(failedOutcome(e.path, err));
        }
        ctx.progress({ phase: "verify", done: out.length, total: manifest.length, current: e.path });
      }
    } finally {
      await dst.close();
      saveReceipts(octx.stateDir, ctx.volume, receipts);
    }
    return out;
  }

  return {
    async capabilities() {
      const warnings: string[] = [];
      if (!existsSync(root)) warnings.push(`directory ${root} does not exist yet (hoard dest init creates it)`);
      return { methods: ["blake3"], warnings, facts: { path: root } };
    },
    async init() {
      return initMarker(marker);
    },
    async identify() {
      return readMarker(marker);
    },
    async push(manifest, ctx) {
      const dst = destTree(true);
      let src: Tree;
      try {
        src = new Tree(openRoot(ctx.volumeRoot), false);
      } catch (e) {
        await dst.close();
        throw e;
      }
      const receipts = loadReceipts(octx.stateDir, ctx.volume, ctx.receiptScope);
      const out: FileOutcome[] = [];
      try {
        for await (const batch of pushBatches(d, manifest, ctx, src, dst, receipts, probe)) for (const o of batch) out.push(o); // a batch of unchanged entries may be the whole volume: never spread it into arguments
      } finally {
        await src.close();
        await dst.close();
        if (dst.leftoversRemoved) ctx.log.info(`${name}: removed ${dst.leftoversRemoved} temp files left by an interrupted push`);
        saveReceipts(octx.stateDir, ctx.volume, receipts);
      }
      return out;
    },
    async verify(manifest, ctx) {
      return verifyAll(manifest, ctx);
    },
    async confirm(entries, ctx, depth) {
      // live: every answer comes from the destination now (no receipts)
      const out: FileOutcome[] = [];
      const dst = destTree(false);
      try {
        for (const e of entries) {
          if (ctx.signal.aborted) break;
          try {
            if (depth === "presence") {
              statObject(d, dst, e, ctx.volume);
              out.push({ path: e.path, ok: true, method: "presence", verifiedAt: api.util.nowNs() });
            } else {
              const { digest } = await readObject(d, dst, e, ctx.volume, ctx.signal);
              out.push(digest === e.blake3 ? { path: e.path, ok: true, method: "blake3", verifiedAt: api.util.nowNs() } : { path: e.path, ok: false, reason: differs(d, digest, e) });
            }
          } catch (err: any) {
            if (err instanceof EntryError) out.push({ path: e.path, ok: false, reason: err.message, ...(err.missing ? { missing: true } : {}) });
            else out.push({ path: e.path, ok: false, reason: `cannot check at ${name}: ${errText(err)}` });
          }
        }
      } finally {
        await dst.close();
      }
      return out;
    },
    async fetch(entry, target, ctx) {
      const dst = destTree(false);
      try {
        const { parents, name: base } = place(entry.path, ctx.volume);
        let fd: number;
        try {
          const dir = dst.acquire(parents);
          try {
            fd = dir.openFile(base, RD);
          } finally {
            dst.release(parents);
          }
        } catch (err) {
          throw new Error(refusal(err, name).message);
        }
        try {
          if (!fstatSync(fd).isFile()) throw new Error(`not a regular file at ${name}`);
          const out = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          try {
            const buf = buffer();
            let since = 0;
            for (let pos = 0; ; ) {
              const n = readSync(fd, buf, 0, CHUNK, pos);
              if (n === 0) break;
              for (let off = 0; off < n; ) off += writeSync(out, buf, off, n - off);
              pos += n;
              if ((since += n) >= YIELD_EVERY) {
                since = 0;
                await yieldTurn();
              }
            }
          } finally {
            closeSync(out);
          }
        } finally {
          closeSync(fd);
        }
      } finally {
        await dst.close();
      }
    },
    ...fsCatalogs(api, name, openDest),
  };
}

const plugin: Plugin = {
  name: "fs",
  apiVersion: 1,
  setup(api) {
    const v = api.v;
    api.destination({
      name: "fs",
      schema: v.strictObject({ path: v.pipe(v.string(), v.check((p) => p.startsWith("/"), "must be an absolute path")) }),
      open: (o, octx) => openFs(api, o, octx),
    });
  },
};
export default plugin;
