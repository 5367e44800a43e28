// hoard's own temp files left by an interrupted run, found by the index walk and removed through
// anchored handles; an offload leftover only when its bytes are an indexed file of its directory.

import { closeSync, constants, fstatSync } from "node:fs";
import type { Db } from "../kernel/db.ts";
import { liveDigestsIn } from "../kernel/files.ts";
import { hashFileFromHandle } from "../kernel/hash.ts";
import { AnchorError, splitRel, type Dir } from "../kernel/anchored.ts";
import { unlinkChecked } from "./unlink.ts";
import type { LeftoverKind } from "./walk.ts";

/** What removeLeftovers did: how many it removed, and the ones it kept (with why, for the user). */
export interface LeftoverOutcome {
  removed: number;
  kept: { path: string; message: string }[];
}

/**
 * Remove hoard's temp files left by an interrupted run, through anchored handles (a link is removed, never
 * followed). A restore or destination temp holds bytes fetched from (or bound for) a destination. An offload
 * leftover is the file that was being offloaded: it is removed only when its BLAKE3 (read from its own
 * handle) is the content of an indexed file in the same directory; anything else is reported and kept.
 */
export async function removeLeftovers(db: Db, top: Dir, leftovers: { rel: string; kind: LeftoverKind }[], volume: string): Promise<LeftoverOutcome> {
  const out: LeftoverOutcome = { removed: 0, kept: [] };
  for (const { rel, kind } of leftovers) {
    const keep = (why: string) => void out.kept.push({ path: rel, message: `hoard's ${kind} temp file was not removed: ${why}` });
    const { parents, name } = splitRel(rel);
    let dir;
    try {
      dir = top.openDir(parents);
    } catch (e) {
      if (e instanceof AnchorError) keep(e.message);
      else throw e;
      continue;
    }
    try {
      const st = dir.stat(name);
      if (!st) continue;
      if (st.isSymbolicLink()) {
        dir.unlink(name);
        out.removed++;
        continue;
      }
      if (!st.isFile()) {
        keep("not a regular file; inspect it and remove it");
        continue;
      }
      let checked = st;
      if (kind === "offload") {
        const digests = liveDigestsIn(db, volume, parents.join("/"));
        const fd = dir.openFile(name, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
        try {
          checked = fstatSync(fd, { bigint: true });
          const h = await hashFileFromHandle(fd);
          if (h.changed || !digests.has(h.blake3)) {
            keep("its content is not an indexed file of this directory; inspect it, then delete or rename it");
            continue;
          }
        } finally {
          closeSync(fd);
        }
      }
      const r = unlinkChecked(dir, name, checked);
      if (r.ok) out.removed++;
      else keep(r.message);
    } catch (e: any) {
      keep(e?.code ?? e?.message ?? String(e));
    } finally {
      dir.close();
    }
  }
  return out;
}
