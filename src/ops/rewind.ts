// The guarded evidence rewind (`hoard evidence rewind`): lowering one component explicitly, shown
// first without --yes, recorded in the evidence history as its own run.

import { refused, usageError } from "../kernel/errors.ts";
import { components, rewindComponent } from "../kernel/vector.ts";
import { withRun, type OpContext } from "./context.ts";

export async function evidenceRewind(ctx: OpContext, volume: string, destination: string, origin: string, to: bigint, yes: boolean) {
  if (!ctx.config.volumes[volume]) throw usageError("unknown_volume", `unknown volume ${volume}`);
  const comp = components(ctx.db, { volume, destination }).find((c) => c.origin_node === origin);
  if (!comp) throw refused("no_component", `no evidence for volume ${volume} at ${destination} from origin ${origin}`, `see \`hoard evidence ${volume}\``);
  if (!yes)
    return { applied: false, volume, destination, origin_node: origin, from: comp.origin_run, to, message: `would lower ${volume}/${destination}/${origin} from run ${comp.origin_run} to ${to}; run again with --yes` };
  const out = await withRun(ctx, { kind: "evidence-rewind", volume: null, destination }, () => {}, async (run) => {
    const r = ctx.db.tx(() => rewindComponent(ctx.db, volume, destination, origin, to, run.id));
    return { status: "success", counts: {}, result: r };
  });
  return { applied: true, run_id: out.run.id, volume, destination, origin_node: origin, from: out.result.from, to: out.result.to };
}
