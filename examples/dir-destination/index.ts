// Example third-party destination `dir`: stores file contents in a local directory by BLAKE3, with one
// sidecar index per volume (path -> hash, size), and proves every file by reading the stored bytes back.
//
// Load it with `plugins = ["./examples/dir-destination/index.ts"]` in the config, then:
//
//   [destinations.usb]
//   type = "dir"
//   path = "/media/usb/hoard"   # an existing directory; `hoard dest init usb` marks it
//
// Like any third-party plugin it imports types only: the filesystem work goes through api.util (anchored
// directory handles, atomic writes, BLAKE3), node: built-ins are allowed, and nothing from hoard's src/.
//
// Layout under `path`:
//   hoard-dir.json             identity marker { format, id }, written once by init
//   blobs/<b3[0:2]>/<b3>       file contents, named by their BLAKE3
//   index/<hex(volume)>.json   the sidecar: { path: { blake3, size } } of what this volume stored
//   catalogs/<hex(volume)>/<name>  catalogs hoard asks it to keep

import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import type { AnchoredDir, ConfirmDepth, DestinationHandler, FileOutcome, HandlerContext, Identity, ManifestEntry, OpenContext, Plugin, PluginApi } from "hoard/plugin";

const MARKER = "hoard-dir.json";
const FORMAT = "hoard-dir-destination/1";
const CHUNK = 1 << 20;

type Index = Record<string, { blake3: string; size: number }>;

const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");

/** Every chunk of an open descriptor (closed at the end, or when the consumer stops early). */
function* chunks(fd: number): Generator<Uint8Array> {
  try {
    for (;;) {
      const buf = new Uint8Array(CHUNK);
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

export function openDir(api: PluginApi, options: { path: string }, octx: OpenContext): DestinationHandler {
  const { anchored, errors, writeFileAtomic, blake3Stream, nowNs } = api.util;
  const where = `destination ${octx.name} (${options.path})`;

  /** Run fn with the root handle; the root must exist (a missing root is an error, never "uninitialised"). */
  function withRoot<T>(fn: (root: AnchoredDir) => T): T {
    const root = anchored.openRoot(options.path);
    try {
      return fn(root);
    } finally {
      root.close();
    }
  }
  async function withRootAsync<T>(fn: (root: AnchoredDir) => Promise<T>): Promise<T> {
    const root = anchored.openRoot(options.path);
    try {
      return await fn(root);
    } finally {
      root.close();
    }
  }

  function readAll(dir: AnchoredDir, name: string): Buffer {
    return Buffer.concat([...chunks(dir.openFile(name, constants.O_RDONLY))]);
  }

  function identity(root: AnchoredDir): Identity | "uninitialised" {
    if (!root.stat(MARKER)) return "uninitialised";
    const m = JSON.parse(readAll(root, MARKER).toString("utf8"));
    if (m?.format !== FORMAT || typeof m.id !== "string") throw errors.failure("dir_marker_invalid", `${where}: ${MARKER} is not a marker this plugin wrote`, "point the destination at the directory `hoard dest init` marked");
    return { id: m.id, detail: `directory ${options.path}` };
  }

  function requireInit(root: AnchoredDir): void {
    if (identity(root) === "uninitialised") throw errors.refused("dir_uninitialised", `${where} is not initialised`, `run \`hoard dest init ${octx.name}\``);
  }

  function loadIndex(root: AnchoredDir, volume: string): Index {
    let dir: AnchoredDir;
    try {
      dir = root.openDir(["index"]);
    } catch (e: any) {
      if (e?.kind === "missing") return {};
      throw e;
    }
    try {
      const name = `${hex(volume)}.json`;
      return dir.stat(name) ? (JSON.parse(readAll(dir, name).toString("utf8")) as Index) : {};
    } finally {
      dir.close();
    }
  }

  async function saveIndex(root: AnchoredDir, volume: string, index: Index): Promise<void> {
    const dir = root.openDir(["index"], { create: true });
    try {
      await writeFileAtomic(dir.at(`${hex(volume)}.json`), JSON.stringify(index));
    } finally {
      dir.close();
    }
  }

  /** The blob's directory, or undefined when it does not exist (and create is not asked). */
  function blobDir(root: AnchoredDir, b3: string, create = false): AnchoredDir | undefined {
    if (!/^[0-9a-f]{64}$/.test(b3)) throw errors.failure("dir_bad_hash", `${where}: not a BLAKE3 hex digest: ${b3}`);
    try {
      return root.openDir(["blobs", b3.slice(0, 2)], { create });
    } catch (e: any) {
      if (e?.kind === "missing") return undefined;
      throw e;
    }
  }

  /** BLAKE3 and size of the stored blob `b3`, read back now; undefined when it is not there. */
  function readBack(root: AnchoredDir, b3: string): { blake3: string; size: number } | undefined {
    const dir = blobDir(root, b3);
    if (!dir) return undefined;
    try {
      if (!dir.stat(b3)?.isFile()) return undefined;
      const h = blake3Stream();
      let size = 0;
      for (const c of chunks(dir.openFile(b3, constants.O_RDONLY))) (h.update(c), (size += c.length));
      return { blake3: h.digestHex(), size };
    } finally {
      dir.close();
    }
  }

  /** Copy the local file into blob `e.blake3`; the bytes must hash to the indexed BLAKE3 or nothing is placed. */
  async function store(root: AnchoredDir, src: AnchoredDir, e: ManifestEntry): Promise<string | null> {
    const { parents, name } = anchored.splitRel(e.path);
    let fd: number;
    let dir: AnchoredDir | undefined;
    try {
      dir = src.openDir(parents);
      fd = dir.openFile(name, constants.O_RDONLY);
    } catch (x: any) {
      return x?.kind === "missing" ? "the local file is gone" : `cannot read the local file: ${x?.message ?? x}`;
    } finally {
      dir?.close();
    }
    const h = blake3Stream();
    let size = 0;
    function* checked(): Generator<Uint8Array> {
      for (const c of chunks(fd)) (h.update(c), (size += c.length), yield c);
      if (size !== e.size || h.digestHex() !== e.blake3) throw new Error("changed since it was indexed");
    }
    const out = blobDir(root, e.blake3, true)!;
    try {
      await writeFileAtomic(out.at(e.blake3), checked());
      return null;
    } catch (x: any) {
      return `not stored: the local file ${x?.message ?? x}`;
    } finally {
      out.close();
    }
  }

  /** One entry checked against what is stored: held under this path, with this content, read back now. */
  function check(root: AnchoredDir, index: Index, e: ManifestEntry, depth: ConfirmDepth | "stored" = "content"): FileOutcome {
    const rec = index[e.path];
    if (!rec || rec.blake3 !== e.blake3 || rec.size !== e.size) return { path: e.path, ok: false, reason: "not stored under this path with this content", missing: true };
    if (depth === "presence") {
      const dir = blobDir(root, e.blake3);
      const st = dir?.stat(e.blake3);
      dir?.close();
      return st?.isFile() && st.size === BigInt(e.size) ? { path: e.path, ok: true, method: "presence", verifiedAt: nowNs() } : { path: e.path, ok: false, reason: "stored object is missing or has another size", missing: !st };
    }
    const got = readBack(root, e.blake3);
    if (!got) return { path: e.path, ok: false, reason: "stored object is missing", missing: true };
    if (got.blake3 !== e.blake3 || got.size !== e.size) return { path: e.path, ok: false, reason: "stored bytes do not match (BLAKE3 read back)" };
    return { path: e.path, ok: true, method: "blake3", verifiedAt: nowNs() };
  }

  async function checkAll(entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
    return withRoot((root) => {
      requireInit(root);
      const index = loadIndex(root, ctx.volume);
      const out: FileOutcome[] = [];
      for (const [i, e] of entries.entries()) {
        if (ctx.signal.aborted) break;
        ctx.progress({ phase: depth === "presence" ? "confirm" : "verify", done: i, total: entries.length, current: e.path });
        out.push(check(root, index, e, depth));
      }
      return out;
    });
  }

  function catalogName(name: string): void {
    if (!name || name.startsWith(".") || name.includes("/") || name.includes("\0")) throw errors.failure("dir_catalog_name", `${where}: not a catalog name: ${JSON.stringify(name)}`);
  }

  return {
    async capabilities() {
      return { methods: ["blake3"], warnings: [], facts: { path: options.path, layout: FORMAT } };
    },

    async init() {
      return withRootAsync(async (root) => {
        const cur = identity(root);
        if (cur !== "uninitialised") throw errors.refused("dir_exists", `${where} is already initialised (id ${cur.id}); init never adopts a destination`, "use `hoard dest` to pin it, or point at an empty directory");
        const id = randomUUID();
        await writeFileAtomic(root.at(MARKER), JSON.stringify({ format: FORMAT, id }) + "\n", { replace: false });
        return { id, detail: `directory ${options.path}` };
      });
    },

    async identify() {
      return withRoot(identity);
    },

    async push(manifest, ctx) {
      return withRootAsync(async (root) => {
        requireInit(root);
        const src = anchored.openRoot(ctx.volumeRoot);
        const index = loadIndex(root, ctx.volume);
        const out: FileOutcome[] = [];
        try {
          for (const [i, e] of manifest.entries()) {
            if (ctx.signal.aborted) break; // what is done so far is indexed below; the rest gets no outcome
            ctx.progress({ phase: "push", done: i, total: manifest.length, current: e.path });
            if (e.status === "offloaded") {
              out.push(check(root, index, e)); // nothing local to copy: only what is stored can answer
              continue;
            }
            let o = check(root, { [e.path]: { blake3: e.blake3, size: e.size } }, e);
            if (!o.ok) {
              const why = await store(root, src, e);
              o = why ? { path: e.path, ok: false, reason: why } : check(root, { [e.path]: { blake3: e.blake3, size: e.size } }, e);
              if (o.ok) o = { ...o, transferred: true };
            }
            if (o.ok) index[e.path] = { blake3: e.blake3, size: e.size };
            out.push(o);
          }
        } finally {
          src.close();
          await saveIndex(root, ctx.volume, index); // before any outcome is returned
        }
        return out;
      });
    },

    verify: (manifest, ctx) => checkAll(manifest, ctx, "content"),
    confirm: (entries, ctx, depth) => checkAll(entries, ctx, depth),

    async fetch(entry, targetPath, ctx) {
      withRoot((root) => {
        requireInit(root);
        const rec = loadIndex(root, ctx.volume)[entry.path];
        const dir = rec?.blake3 === entry.blake3 ? blobDir(root, entry.blake3) : undefined;
        if (!dir) throw errors.failure("dir_not_stored", `${where} holds no copy of ${entry.path} with this content`, `run \`hoard verify ${octx.name} ${ctx.volume}\``);
        try {
          const out = openSync(targetPath, "w", 0o600);
          try {
            for (const c of chunks(dir.openFile(entry.blake3, constants.O_RDONLY))) for (let off = 0; off < c.length; ) off += writeSync(out, c, off);
          } finally {
            closeSync(out);
          }
        } finally {
          dir.close();
        }
      }); // hoard checks the fetched bytes' BLAKE3 itself
    },

    async putCatalog(volume, name, bytes) {
      catalogName(name);
      await withRootAsync(async (root) => {
        const dir = root.openDir(["catalogs", hex(volume)], { create: true });
        try {
          // never replaced: an existing name must already hold these bytes (names carry their hash)
          if (!dir.stat(name)) await writeFileAtomic(dir.at(name), bytes, { replace: false }).catch((e) => (e?.code === "EEXIST" ? undefined : Promise.reject(e)));
          if (Buffer.compare(readAll(dir, name), bytes) !== 0) throw errors.failure("dir_catalog_differs", `${where}: catalog ${name} of ${volume} is already stored with other bytes; it is kept as it is`);
        } finally {
          dir.close();
        }
      });
    },
    async listCatalogs(volume) {
      return withRoot((root) => {
        let dir: AnchoredDir;
        try {
          dir = root.openDir(["catalogs", hex(volume)]);
        } catch (e: any) {
          if (e?.kind === "missing") return [];
          throw e;
        }
        try {
          return dir.list().filter((n) => !n.startsWith(".")); // temps of writeFileAtomic start with "."
        } finally {
          dir.close();
        }
      });
    },
    async getCatalog(volume, name) {
      catalogName(name);
      return withRoot((root) => {
        const dir = root.openDir(["catalogs", hex(volume)]);
        try {
          return new Uint8Array(readAll(dir, name));
        } finally {
          dir.close();
        }
      });
    },
  };
}

const plugin: Plugin = {
  name: "dir-destination",
  apiVersion: 1,
  setup(api) {
    const v = api.v;
    api.destination({
      name: "dir",
      schema: v.strictObject({ path: v.pipe(v.string(), v.check((p) => p.startsWith("/"), "must be an absolute path")) }),
      // options is inferred from the schema: { path: string }
      open: (options, octx) => openDir(api, options, octx),
    });
  },
};
export default plugin;
