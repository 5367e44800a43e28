// What restores kept aside: the different files a restore found where a restored file belonged, under a
// volume's .hoard/restore-history, listed through anchored handles (a killed run's are listed too).

import { AnchorError, openRoot } from "../kernel/anchored.ts";
import { RESERVED_DIR } from "../kernel/volumes.ts";
import { walk } from "./walk.ts";

/** The directory (below RESERVED_DIR) where a restore keeps a different file it found in place. */
export const RESTORE_HISTORY = "restore-history";

export interface KeptAside {
  files: number;
  bytes: number;
  /** The first `limit` kept files, relative to the volume root (e.g. `.hoard/restore-history/run-7-…/a/b.jpg`). */
  paths: string[];
  /** How many more there are. */
  more: number;
}

/** The files kept aside in the volume at `root` (none when it has no restore history or is not there). */
export function keptAside(root: string, limit = 20): KeptAside {
  const out: KeptAside = { files: 0, bytes: 0, paths: [], more: 0 };
  let top;
  try {
    top = openRoot(root);
  } catch (e) {
    if (e instanceof AnchorError) return out; // not mounted, not there: status says so elsewhere
    throw e;
  }
  try {
    let history;
    try {
      history = top.openDir([RESERVED_DIR, RESTORE_HISTORY]);
    } catch (e) {
      if (e instanceof AnchorError) return out;
      throw e;
    }
    try {
      walk(
        history,
        (f) => {
          out.files++;
          out.bytes += f.size;
          if (out.paths.length < limit) out.paths.push(`${RESERVED_DIR}/${RESTORE_HISTORY}/${f.rel}`);
          else out.more++;
        },
        () => {},
        false,
      );
    } finally {
      history.close();
    }
  } finally {
    top.close();
  }
  return out;
}
