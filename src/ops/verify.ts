// `hoard verify DEST [VOLUME]`: re-check what a destination holds, volume by volume (every volume using
// it by default), without transferring; each check refreshes evidence honestly.

import { usageError } from "../kernel/errors.ts";
import { checkVolume, volumesFor, type CheckResult } from "./sync.ts";
import { requireDestination } from "./dest-admin.ts";
import type { OpContext } from "./context.ts";

/** Verify one destination for one volume, or for every volume that uses it. */
export async function verifyDestination(ctx: OpContext, dest: string, volume: string | undefined): Promise<CheckResult[]> {
  requireDestination(ctx, dest);
  const vols = volume ? [volume] : volumesFor(ctx, dest);
  if (!vols.length) throw usageError("nothing_to_verify", `no volume uses destination ${dest}`, "name a volume: hoard verify DEST VOLUME");
  const results: CheckResult[] = [];
  for (const v of vols) {
    if (!ctx.config.volumes[v]) throw usageError("unknown_volume", `unknown volume ${v}`);
    results.push(await checkVolume(ctx, "verify", v, dest));
  }
  return results;
}
