// Catalogs at an rclone destination: <remote>/<volume>/.hoard/catalogs/<name>. Written by `copyto` of a
// private local temp file to a temp name there (rclone checks size and hash), then `moveto` the name.

import { randomUUID } from "node:crypto";
import { closeSync, constants, fsyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { DestinationHandler, PluginApi } from "../../src/kernel/plugin.ts";
import { isCatalogName } from "../../src/kernel/catalog.ts";
import { standardLocalPath, standardPath } from "./names.ts";
import { joinRemote } from "./options.ts";
import type { Rclone } from "./run.ts";

/** Below the volume's directory at the destination (the push's listings exclude `.hoard/**`). */
export const CATALOG_DIR = ".hoard/catalogs";
const TEMP_PREFIX = ".hoard-tmp-";

type CatalogMethods = Required<Pick<DestinationHandler, "putCatalog" | "listCatalogs" | "getCatalog">>;

export function rcloneCatalogs(api: PluginApi, rc: Rclone, remote: string, dest: string, stateDir: string): CatalogMethods {
  const { failure } = api.util.errors;
  const dirOf = (volume: string) => {
    if (volume === "" || volume.includes("/")) throw failure("bad_volume_name", `${dest}: not a volume name: ${JSON.stringify(volume)}`);
    return joinRemote(remote, `${standardPath(volume)}/${CATALOG_DIR}`);
  };
  const checkName = (name: string) => {
    if (!isCatalogName(name)) throw failure("bad_catalog_name", `${dest}: not a catalog name: ${JSON.stringify(name)}`);
  };

  async function list(volume: string, signal?: AbortSignal): Promise<string[]> {
    const r = await rc.run(["lsf", "--files-only", dirOf(volume)], { signal });
    if (r.code === 3) return []; // the directory provably does not exist: no catalogs yet
    if (r.code !== 0) throw failure("catalog_list", `${dest}: cannot list the catalogs of ${volume}: ${rc.describeFailure("lsf", r)}`, "check that the remote is reachable");
    return r.stdout.split("\n").filter(isCatalogName);
  }

  async function get(volume: string, name: string, signal?: AbortSignal): Promise<Uint8Array> {
    checkName(name);
    const chunks: Uint8Array[] = [];
    const r = await rc.run(["cat", joinRemote(dirOf(volume), name)], { signal, onStdoutData: (c) => void chunks.push(c) });
    if (r.code === 3 || r.code === 4) throw failure("catalog_missing", `${dest}: catalog ${name} of ${volume} is not there`);
    if (r.code !== 0) throw failure("catalog_read", `${dest}: cannot read catalog ${name}: ${rc.describeFailure("cat", r)}`, "check that the remote is reachable");
    const b = Buffer.concat(chunks);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  return {
    async putCatalog(volume, name, bytes, ctx) {
      checkName(name);
      const dir = dirOf(volume);
      const signal = ctx.signal;
      // never replaced: a name already there must hold these very bytes
      if ((await list(volume, signal)).includes(name)) {
        const have = await get(volume, name, signal);
        if (Buffer.compare(have, bytes) !== 0) throw failure("catalog_name_taken", `${dest}: catalog ${name} already exists there with other bytes; it is not replaced`, "move it away by hand if it is damaged");
        return;
      }
      // rclone reads the bytes from a private local file (its stdin here carries text only)
      const local = join(stateDir, `catalog-${randomUUID()}.tmp`);
      const fd = openSync(local, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
      const tmp = joinRemote(dir, `${TEMP_PREFIX}${randomUUID()}`);
      let moved = false;
      try {
        try {
          for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        const up = await rc.run(["copyto", standardLocalPath(local), tmp, "--no-traverse"], { signal });
        if (up.code !== 0) throw failure("catalog_write", `${dest}: cannot upload catalog ${name}: ${rc.describeFailure("copyto", up)}`, "check that the remote is reachable and writable");
        // --ignore-existing: a name that appeared since the listing is left as it is (never replaced)
        const mv = await rc.run(["moveto", tmp, joinRemote(dir, name), "--ignore-existing"], { signal });
        if (mv.code !== 0) throw failure("catalog_write", `${dest}: cannot move catalog ${name} into place: ${rc.describeFailure("moveto", mv)}`, "check that the remote is reachable and writable");
        moved = true;
      } finally {
        try {
          unlinkSync(local);
        } catch {}
        // best effort (a listing ignores temp names; one left where the name appeared meanwhile too)
        if (!moved) await rc.run(["deletefile", tmp]).catch(() => undefined);
      }
    },
    listCatalogs: (volume) => list(volume),
    getCatalog: (volume, name) => get(volume, name),
  };
}
