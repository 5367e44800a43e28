// Built-in destination `fs`: a plain directory, the embedded default that needs no external tool.
// Writes through temp file + fsync + rename, never deletes, reads every transfer back (BLAKE3);
// receipts (local state) only spare re-reading unchanged objects and are reported as such.

import { definePlugin, type DestinationHandler, type FileOutcome, type HandlerContext, type ManifestEntry, type OpenContext, type PluginApi } from "../../src/kernel/plugin.ts";
import { closeSync, copyFileSync, createReadStream, createWriteStream, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { randomUUID } from "node:crypto";
import { loadReceipts, saveReceipts, type Receipts } from "./receipts.ts";

export const DEST_MARKER = ".hoard-destination";

interface FsOptions {
  path: string;
}

/** Files copied (and fsynced) at once: concurrent fsyncs share the file system's journal commits. */
const PUSH_CONCURRENCY = 8;

async function fsyncFile(p: string): Promise<void> {
  const fh = await open(p, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function fsyncPath(p: string, dir = false) {
  const fd = openSync(p, dir ? "r" : "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function safeRel(rel: string): string {
  const parts = rel.split("/");
  if (rel.startsWith("/") || parts.some((p) => p === "" || p === "." || p === ".."))
    throw new Error(`unsafe manifest path ${JSON.stringify(rel)}`);
  return parts.join(sep);
}

export function openFs(api: PluginApi, o: FsOptions, octx: Pick<OpenContext, "name" | "stateDir">): DestinationHandler {
  const root = o.path;
  const name = octx.name;
  const { failure } = api.util.errors;
  const volDir = (volume: string) => join(root, volume);
  const okDirs = new Set<string>();
  /** Directories whose entries changed in this push and still need an fsync. */
  const pendingDirs = new Set<string>();

  /** Make sure a directory under the volume exists and resolves inside it (no symlinked parents). */
  function ensureDir(volume: string, dir: string) {
    if (okDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    const base = realpathSync(volDir(volume));
    const real = realpathSync(dir);
    if (real !== base && !real.startsWith(base + sep)) throw new Error(`destination directory ${dir} resolves outside the destination (symlink?)`);
    okDirs.add(dir);
  }

  const statOf = (p: string) => {
    try {
      const s = lstatSync(p, { bigint: true });
      return s.isFile() ? { size: Number(s.size), mtimeNs: s.mtimeNs } : "not-a-file";
    } catch (e: any) {
      if (e.code === "ENOENT" || e.code === "ENOTDIR") return undefined;
      throw e;
    }
  };

  async function readBack(p: string): Promise<string> {
    return api.util.blake3File(p);
  }

  async function checkOne(e: ManifestEntry, ctx: HandlerContext, receipts: Receipts, useReceipt: boolean): Promise<FileOutcome> {
    const p = join(volDir(ctx.volume), safeRel(e.path));
    const st = statOf(p);
    if (st === undefined) return { path: e.path, ok: false, missing: true, reason: `missing at ${name}` };
    if (st === "not-a-file") return { path: e.path, ok: false, reason: `not a regular file at ${name}` };
    if (st.size !== e.size) return { path: e.path, ok: false, reason: `size at ${name} is ${st.size}, expected ${e.size}` };
    const rc = receipts.get(e.path);
    // a receipt saves the read-back of an object unchanged since its last check; it is reported as
    // such (unchanged since then), never as verified now, and never for an entry due for a check
    if (useReceipt && !e.recheck && rc && rc.blake3 === e.blake3 && rc.size === st.size && rc.mtime_ns === String(st.mtimeNs)) {
      const now = api.util.nowNs();
      const at = BigInt(rc.checked_at);
      return { path: e.path, ok: true, unchanged: true, method: "blake3", verifiedAt: at < now ? at : now };
    }
    const digest = await readBack(p);
    const now = api.util.nowNs();
    if (digest === e.blake3) receipts.set(e.path, { blake3: digest, size: st.size, mtime_ns: String(st.mtimeNs), checked_at: String(now) });
    else receipts.delete(e.path);
    receipts.dirty = true;
    if (digest !== e.blake3) return { path: e.path, ok: false, reason: `content at ${name} differs (BLAKE3 ${digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)` };
    return { path: e.path, ok: true, method: "blake3", verifiedAt: now };
  }

  async function transfer(e: ManifestEntry, ctx: HandlerContext, receipts: Receipts): Promise<FileOutcome> {
    const rel = safeRel(e.path);
    const src = join(ctx.volumeRoot, rel);
    const dst = join(volDir(ctx.volume), rel);
    ensureDir(ctx.volume, dirname(dst));
    const existing = statOf(dst);
    if (existing !== undefined) {
      // keep the older version: never delete at the destination
      const hist = join(volDir(ctx.volume), ".hoard", "history", `run-${ctx.runId}`, rel);
      mkdirSync(dirname(hist), { recursive: true });
      renameSync(dst, hist);
      pendingDirs.add(dirname(hist));
    }
    const tmp = join(dirname(dst), `.hoard-tmp-${randomUUID()}`);
    try {
      copyFileSync(src, tmp);
      await fsyncFile(tmp);
      renameSync(tmp, dst);
      pendingDirs.add(dirname(dst)); // its entry is made durable once per directory, before outcomes are returned
    } catch (err: any) {
      try {
        if (existsSync(tmp)) renameSync(tmp, join(volDir(ctx.volume), ".hoard", `failed-${randomUUID()}`));
      } catch {}
      return { path: e.path, ok: false, reason: `copy failed: ${err.code ?? err.message}` };
    }
    const out = await checkOne(e, ctx, receipts, false);
    if (!out.ok) return { ...out, reason: `${out.reason}; the local file probably changed since it was indexed (index again)` };
    return { ...out, transferred: true };
  }

  /**
   * Run fn over every entry (until aborted) with the receipts loaded, saving them whatever
   * happens; up to `concurrency` entries at once (each touches only its own paths). Outcomes come
   * back in manifest order; an entry not reached before an abort has none.
   */
  async function eachEntry(phase: string, manifest: ManifestEntry[], ctx: HandlerContext, fn: (e: ManifestEntry, receipts: Receipts) => Promise<FileOutcome>, concurrency = 1): Promise<FileOutcome[]> {
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
          slots[i] = { path: e.path, ok: false, reason: err.message };
        }
        ctx.progress({ phase, done: ++done, total: manifest.length, current: e.path });
      }
    };
    const out: FileOutcome[] = [];
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, manifest.length)) }, worker));
      for (const o of slots) if (o) out.push(o);
    } finally {
      saveReceipts(octx.stateDir, ctx.volume, receipts);
      // make the renames durable: one fsync per touched directory; a failure un-verifies its files
      for (const dir of pendingDirs) {
        try {
          fsyncPath(dir, true);
        } catch (err: any) {
          for (let i = 0; i < out.length; i++) {
            const o = out[i]!;
            if (o.ok && dirname(join(volDir(ctx.volume), safeRel(o.path))) === dir) out[i] = { path: o.path, ok: false, reason: `fsync of ${dir} failed: ${err.code ?? err.message}` };
          }
        }
      }
      pendingDirs.clear();
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
      mkdirSync(root, { recursive: true });
      const p = join(root, DEST_MARKER);
      if (existsSync(p)) throw failure("dest_marker_exists", `${p} already exists: this directory is already a hoard destination`, `if it is yours and you want a new identity, run \`hoard dest reset ${name} --yes\``);
      const id = randomUUID();
      const tmp = `${p}.tmp-${process.pid}`;
      writeFileSync(tmp, JSON.stringify({ id, type: "fs", created_at: new Date().toISOString() }) + "\n");
      fsyncPath(tmp);
      renameSync(tmp, p);
      fsyncPath(root, true);
      return { id };
    },
    async identify() {
      let st;
      try {
        st = lstatSync(root);
      } catch (e: any) {
        throw failure("dest_missing", `destination directory ${root} does not exist (${e.code}); is it mounted?`, `mount it, or fix destinations.${name}.path`);
      }
      if (!st.isDirectory()) throw failure("dest_not_dir", `destination path ${root} is not a directory`);
      try {
        const m = JSON.parse(readFileSync(join(root, DEST_MARKER), "utf8"));
        if (typeof m?.id !== "string") throw new Error("no id");
        return { id: m.id };
      } catch (e: any) {
        if (e.code === "ENOENT") return "uninitialised";
        throw failure("dest_marker_unreadable", `cannot read ${join(root, DEST_MARKER)}: ${e.message}`);
      }
    },
    async push(manifest, ctx) {
      ensureDir(ctx.volume, volDir(ctx.volume));
      return eachEntry(
        "push",
        manifest,
        ctx,
        async (e, receipts) => {
          const first = await checkOne(e, ctx, receipts, true);
          return first.ok || e.status === "offloaded" ? first : transfer(e, ctx, receipts);
        },
        PUSH_CONCURRENCY,
      );
    },
    async verify(manifest, ctx) {
      return eachEntry("verify", manifest, ctx, (e, receipts) => checkOne(e, ctx, receipts, false));
    },
    async confirm(entries, ctx, depth) {
      // live: every answer comes from the destination now (no receipts)
      const out: FileOutcome[] = [];
      for (const e of entries) {
        if (ctx.signal.aborted) break;
        try {
          const p = join(volDir(ctx.volume), safeRel(e.path));
          const st = statOf(p);
          if (st === undefined) out.push({ path: e.path, ok: false, missing: true, reason: `missing at ${name}` });
          else if (st === "not-a-file") out.push({ path: e.path, ok: false, reason: `not a regular file at ${name}` });
          else if (st.size !== e.size) out.push({ path: e.path, ok: false, reason: `size at ${name} is ${st.size}, expected ${e.size}` });
          else if (depth === "presence") out.push({ path: e.path, ok: true, method: "presence", verifiedAt: api.util.nowNs() });
          else {
            const digest = await readBack(p);
            out.push(digest === e.blake3 ? { path: e.path, ok: true, method: "blake3", verifiedAt: api.util.nowNs() } : { path: e.path, ok: false, reason: `content at ${name} differs (BLAKE3 ${digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)` });
          }
        } catch (err: any) {
          out.push({ path: e.path, ok: false, reason: `cannot check at ${name}: ${err.code ?? err.message}` });
        }
      }
      return out;
    },
    async fetch(entry, target, ctx) {
      const src = join(volDir(ctx.volume), safeRel(entry.path));
      await new Promise<void>((resolve, reject) => {
        const rs = createReadStream(src);
        const ws = createWriteStream(target, { flags: "wx" });
        rs.on("error", reject);
        ws.on("error", reject);
        ws.on("finish", () => resolve());
        rs.pipe(ws);
      });
    },
  };
}

export default definePlugin({
  name: "fs",
  apiVersion: 1,
  setup(api) {
    const v = api.v;
    api.destination<FsOptions>({
      name: "fs",
      schema: v.strictObject({ path: v.pipe(v.string(), v.check((p) => p.startsWith("/"), "must be an absolute path")) }),
      open: (o, octx) => openFs(api, o, octx),
    });
  },
});
