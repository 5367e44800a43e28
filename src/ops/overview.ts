// `hoard status` as data: each volume's status, the volumes dropped from the config that still hold
// offloaded files or alarms (they stay monitored), and the problems `status --check` exits 4 on.

import { volumeStatus } from "./status.ts";
import { protectionProblems } from "./expire.ts";
import { orphanedVolumes, orphanProblem } from "./setup.ts";
import type { OpContext } from "./context.ts";

/** The status of one volume (or all, and every dropped one still holding something). */
export async function statusOverview(ctx: OpContext, volume: string | undefined) {
  const removed = orphanedVolumes(ctx).filter((o) => !volume || o.volume === volume);
  const vols = volume ? (removed.length ? [] : [volume]) : Object.keys(ctx.config.volumes);
  const volumes = [];
  for (const v of vols) volumes.push(await volumeStatus(ctx, v));
  const alarms = volumes.reduce((n, s) => n + s.alarms, 0) + removed.reduce((n, o) => n + o.alarms, 0);
  const problems = [...(await protectionProblems(ctx, vols)), ...removed.map(orphanProblem)];
  return { volumes, removed_volumes: removed, alarms, problems };
}
