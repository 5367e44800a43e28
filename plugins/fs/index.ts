// Built-in destination `fs`: a plain directory, the embedded default that needs no external tool.
// Every read, stat, create and rename on either side goes through directory handles opened without following
// symlinks (src/kernel/anchored.ts): the source from the volume root, the destination from its root. A push
// copies the checked source handle into a temp file, checks the temp's BLAKE3 against the index, fsyncs it
// and only then renames it into place (with the source's modification time); a replaced object is kept under
// .hoard/history (never overwritten). Receipts (local state) only spare re-reading unchanged objects and are reported as such.

import type { DestinationHandler, FileOutcome, HandlerContext, ManifestEntry, OpenContext, Plugin, PluginApi } from "hoard/plugin";
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { AnchorError, openRoot, type Dir } from "../../src/kernel/anchored.ts";
import { loadReceipts, saveReceipts, type Receipts } from "./receipts.ts";
import { fsCatalogs } from "./catalogs.ts";
import { buffer, CHUNK, EntryError, errText, place, RD, refusal, yieldTurn, YIELD_EVERY, type FsDest } from "./common.ts";
import { Tree } from "./tree.ts";
import { checkOne, differs, readObject, statObject } from "./objects.ts";
import { transfer } from "./transfer.ts";
import { initMarker, readMarker } from "./marker.ts";

export { DEST_MARKER, TEMP_PREFIX } from "./common.ts";

interface FsOptions {
  path: string;
}

/** Files copied (and fsynced) at once: concurrent fsyncs share the file system's journal commits. */
const PUSH_CONCURRENCY = 8;

export function openFs(api: PluginApi, o: FsOptions, octx: Pick<OpenContext, "name" | "stateDir">): DestinationHandler {
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

  /**
   * Run fn over every entry (until aborted) with the receipts loaded, saving them whatever
   * happens; up to `concurrency` entries at once (each touches only its own paths). Outcomes come
   * back in manifest order; an entry not reached before an abort has none.
   */
  async function eachEntry(phase: string, manifest: ManifestEntry[], ctx: HandlerContext, dst: Tree, fn: (e: ManifestEntry, receipts: Receipts) => Promise<FileOutcome>, concurrency = 1): Promise<FileOutcome[]> {
    const receipts = loadReceipts(octx.stateDir, ctx.volume, ctx.receiptScope);
    const slots: (FileOutcome | undefined)[] = new Array(manifest.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < manifest.length && !ctx.signal.aborted) {
        const i = next++;
        const e = manifest[i]!;
        try {
          slots[i] = await fn(e, receipts);
        } catch (err: any) {
          if (ctx.signal.aborted && err?.name === "AbortError") break; // not reached: no outcome
          slots[i] = err instanceof EntryError ? { path: e.path, ok: false, reason: err.message, ...(err.missing ? { missing: true } : {}) } : { path: e.path, ok: false, reason: errText(err) };
        }
        ctx.progress({ phase, done: ++done, total: manifest.length, current: e.path });
      }
    };
    const out: FileOutcome[] = [];
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, manifest.length)) }, worker));
    } finally {
      // make the renames durable: one fsync per touched directory; a failure un-verifies its files
      await dst.close();
      for (const o of slots) {
        if (!o) continue;
        const why = o.ok ? dst.unsynced.get(o.path) : undefined;
        if (why) {
          receipts.delete(o.path);
          receipts.dirty = true;
        }
        out.push(why ? { path: o.path, ok: false, reason: why } : o);
      }
      if (dst.leftoversRemoved) ctx.log.info(`${name}: removed ${dst.leftoversRemoved} temp files left by an interrupted push`);
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
      try {
        return await eachEntry(
          "push",
          manifest,
          ctx,
          dst,
          async (e, receipts) => {
            try {
              return await checkOne(d, dst, e, ctx, receipts, true);
            } catch (err) {
              if (e.status === "offloaded" || !(err instanceof EntryError)) throw err;
              return transfer(d, src, dst, e, ctx, receipts);
            }
          },
          PUSH_CONCURRENCY,
        );
      } finally {
        await src.close();
      }
    },
    async verify(manifest, ctx) {
      const dst = destTree(false);
      return eachEntry("verify", manifest, ctx, dst, (e, receipts) => checkOne(d, dst, e, ctx, receipts, false));
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
