// Catalogs at an fs destination: DEST/<volume>/.hoard/catalogs/<name>, reached through anchored
// handles (never a link); written as a temp file, fsynced, then linked to its name (never replacing one).

import { closeSync, constants, fstatSync, fsyncSync, readSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import type { DestinationHandler, PluginApi } from "../../src/kernel/plugin.ts";
import { AnchorError, splitRel, type Dir } from "../../src/kernel/anchored.ts";
import { isCatalogName } from "../../src/kernel/catalog.ts";
import { HoardError } from "../../src/kernel/errors.ts";
import { NO_HARD_LINKS, TEMP_PREFIX, TEMP_RE } from "./common.ts";

/** Below the volume's directory at the destination. */
export const CATALOG_DIR = [".hoard", "catalogs"];
/** A temp file older than this is a leftover of an interrupted write (a younger one may be another writer's). */
const LEFTOVER_AGE_NS = 3600n * 1_000_000_000n;
/** A catalog larger than this is not read (it cannot be one hoard wrote for a sane volume). */
const MAX_CATALOG = 2 ** 31 - 1;

type CatalogMethods = Required<Pick<DestinationHandler, "putCatalog" | "listCatalogs" | "getCatalog">>;

export function fsCatalogs(api: PluginApi, dest: string, openDest: () => Dir): CatalogMethods {
  const { failure } = api.util.errors;
  const errText = (e: any) => (e instanceof AnchorError ? e.message : (e?.code ?? e?.message ?? String(e)));

  const parts = (volume: string): string[] => {
    let s: { parents: string[]; name: string };
    try {
      s = splitRel(volume);
    } catch {
      s = { parents: ["x"], name: "" };
    }
    if (s.parents.length) throw failure("bad_volume_name", `${dest}: not a volume name: ${JSON.stringify(volume)}`);
    return [volume, ...CATALOG_DIR];
  };
  const checkName = (name: string) => {
    if (!isCatalogName(name)) throw failure("bad_catalog_name", `${dest}: not a catalog name: ${JSON.stringify(name)}`);
  };

  function readAll(dir: Dir, name: string): Buffer {
    const fd = dir.openFile(name, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw failure("catalog_not_file", `${dest}: catalog ${name} is not a regular file`);
      if (st.size > MAX_CATALOG) throw failure("catalog_too_large", `${dest}: catalog ${name} is ${st.size} bytes: too large to be one hoard wrote`);
      const buf = Buffer.allocUnsafe(st.size);
      let n = 0;
      while (n < buf.length) {
        const r = readSync(fd, buf, n, buf.length - n, n);
        if (r === 0) break;
        n += r;
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** Remove our own temp files left by an interrupted write (exact names, older than an hour). */
  function sweep(dir: Dir): void {
    const now = api.util.nowNs();
    for (const n of dir.list()) {
      if (!TEMP_RE.test(n)) continue;
      try {
        const st = dir.stat(n);
        if (st && !st.isDirectory() && now - st.mtimeNs > LEFTOVER_AGE_NS) dir.unlink(n);
      } catch {
        /* gone meanwhile */
      }
    }
  }

  /** An existing entry under the name: fine only if it holds exactly these bytes (never replaced). */
  function sameAsExisting(dir: Dir, name: string, bytes: Uint8Array): void {
    let have: Buffer;
    try {
      have = readAll(dir, name);
    } catch (e) {
      throw failure("catalog_name_taken", `${dest}: ${name} already exists there and cannot be read (${errText(e)}); it is not replaced`, "move it away by hand if it is damaged");
    }
    if (!have.equals(bytes)) throw failure("catalog_name_taken", `${dest}: ${name} already exists there with other bytes; it is not replaced`, "move it away by hand if it is damaged");
  }

  return {
    async putCatalog(volume, name, bytes) {
      checkName(name);
      const where = parts(volume);
      const top = openDest();
      let dir: Dir | undefined;
      try {
        try {
          dir = top.openDir(where, { create: true });
        } catch (e) {
          throw failure("catalog_write", `${dest}: cannot open ${where.join("/")}: ${errText(e)}`, "check that the destination is writable (a symbolic link there is refused)");
        }
        sweep(dir);
        if (dir.stat(name)) return sameAsExisting(dir, name, bytes);
        const tmp = `${TEMP_PREFIX}${randomUUID()}`;
        const fd = dir.openFile(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
        let linked = false;
        try {
          try {
            for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          try {
            dir.link(tmp, dir, name); // never replaces an entry that appeared meanwhile
            linked = true;
          } catch (e: any) {
            if (e?.code === "EEXIST") return sameAsExisting(dir, name, bytes);
            if (!NO_HARD_LINKS.has(e?.code)) throw e;
            if (dir.stat(name)) return sameAsExisting(dir, name, bytes);
            dir.rename(tmp, dir, name); // no hard links here: a rename to a name just seen free
            linked = true;
          }
        } catch (e) {
          if (e instanceof HoardError) throw e;
          throw failure("catalog_write", `${dest}: cannot write catalog ${name}: ${errText(e)}`, "check that the destination is writable and has space");
        } finally {
          try {
            if (dir.stat(tmp)) dir.unlink(tmp);
          } catch {}
        }
        if (linked) {
          // the new name, and any directory created on the way, made durable
          dir.sync();
          for (let k = where.length - 1; k >= 0; k--) {
            const d = k === 0 ? undefined : top.openDir(where.slice(0, k));
            try {
              (d ?? top).sync();
            } finally {
              d?.close();
            }
          }
        }
      } finally {
        dir?.close();
        top.close();
      }
    },
    async listCatalogs(volume) {
      const where = parts(volume);
      const top = openDest();
      try {
        let dir: Dir;
        try {
          dir = top.openDir(where);
        } catch (e) {
          if (e instanceof AnchorError && e.kind === "missing") return [];
          throw failure("catalog_list", `${dest}: cannot list ${where.join("/")}: ${errText(e)}`);
        }
        try {
          return dir.list().filter(isCatalogName);
        } finally {
          dir.close();
        }
      } finally {
        top.close();
      }
    },
    async getCatalog(volume, name) {
      checkName(name);
      const where = parts(volume);
      const top = openDest();
      try {
        let dir: Dir;
        try {
          dir = top.openDir(where);
        } catch (e) {
          if (e instanceof AnchorError && e.kind === "missing") throw failure("catalog_missing", `${dest}: no catalogs of ${volume} there`);
          throw failure("catalog_read", `${dest}: cannot open ${where.join("/")}: ${errText(e)}`);
        }
        try {
          const b = readAll(dir, name);
          return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
        } catch (e) {
          if (e instanceof AnchorError && e.kind === "missing") throw failure("catalog_missing", `${dest}: catalog ${name} of ${volume} is not there`);
          if (e instanceof AnchorError) throw failure("catalog_read", `${dest}: cannot read catalog ${name}: ${errText(e)}`);
          throw e;
        } finally {
          dir.close();
        }
      } finally {
        top.close();
      }
    },
  };
}
