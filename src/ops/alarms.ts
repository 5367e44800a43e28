// Alarm workflows: list alarms (open ones, or every one with --all) and acknowledge one as a
// recorded run (a file lost for good): who, when and why are kept, nothing is deleted.

import { userInfo } from "node:os";
import { refused, usageError } from "../kernel/errors.ts";
import { ackAlarms, alarmState, decideAck, fileAlarms, getAlarm, listAlarms, otherHolders, type AlarmRow } from "../kernel/alarms.ts";
import { liveFile, setFileStatus } from "../kernel/files.ts";
import { getVolume } from "../kernel/volumes.ts";
import { nsToIso } from "../kernel/runtime.ts";
import { withRun, type OpContext } from "./context.ts";

export function alarmView(a: AlarmRow) {
  return {
    id: a.id,
    state: alarmState(a),
    volume: a.volume,
    destination: a.destination,
    path: a.path,
    blake3: a.blake3,
    reason: a.reason,
    raised_run: a.run,
    raised_at: a.raised_at,
    cleared_run: a.cleared_run,
    cleared_at: a.cleared_at,
    acked: a.acked_at === null ? null : { run_id: a.acked_run, at: a.acked_at, by: a.acked_by, note: a.acked_note },
  };
}

/** `hoard alarms [VOLUME] [--all]`: a volume dropped from the config but known to the DB is accepted. */
export function alarmsReport(ctx: OpContext, o: { volume?: string; all?: boolean } = {}) {
  if (o.volume !== undefined && !ctx.config.volumes[o.volume] && !getVolume(ctx.db, o.volume))
    throw usageError("unknown_volume", `unknown volume ${o.volume}`, `known: ${Object.keys(ctx.config.volumes).join(", ") || "none"}`);
  return listAlarms(ctx.db, o).map(alarmView);
}

/** Who acknowledges: the OS user on this node. */
function who(node: string): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME;
  }
  return `${user || "unknown"}@${node}`;
}

/**
 * `hoard alarm ack ID --note TEXT`. A file still offloaded with the alarm's content is given up:
 * every open alarm of it is acknowledged and its row goes `missing` (kept, with the run that
 * changed it), so monitoring can go green. Refused while any destination (its own too) still holds it
 * (restore from there instead), and for an alarm already acknowledged or cleared.
 */
export async function ackAlarm(ctx: OpContext, id: bigint, note: string) {
  const a = getAlarm(ctx.db, id);
  if (!a) throw usageError("no_such_alarm", `alarm ${id} does not exist`, "list them with `hoard alarms --all`");
  const decide = () => {
    const cur = getAlarm(ctx.db, id)!;
    const file = liveFile(ctx.db, cur.volume, cur.path);
    const offloaded = file !== undefined && file.status === "offloaded" && file.blake3 === cur.blake3;
    // the alarm's own destination counts too: an alarm raised because it could not be asked at all
    // (its handler threw) records no verdict, and its latest check there still held
    const holders = offloaded ? otherHolders(ctx.db, cur.volume, cur.path, file.content_id, "").filter((d) => ctx.config.destinations[d]) : [];
    const d = decideAck(cur, file, holders, offloaded ? fileAlarms(ctx.db, cur.volume, cur.path, cur.blake3) : []);
    if (d.kind === "refuse") throw refusal(cur, d.code, d.holders ?? []);
    return { d, file, cur };
  };
  const by = who(ctx.node);
  const out = await withRun(ctx, { kind: "alarm-ack", volume: a.volume, destination: null }, () => void decide(), async (run) => {
    const r = ctx.db.tx(() => {
      const { d, file } = decide(); // again, inside the write lock
      if (d.kind !== "ack") throw new Error("unreachable");
      const what = `${a.volume}/${a.path} at ${a.destination}`;
      const runNote = `acknowledged alarm${d.ids.length > 1 ? "s" : ""} ${d.ids.join(", ")} (${what}${d.lost ? ", file given up" : ""}): ${note}`;
      const n = ackAlarms(ctx.db, d.ids, { run: run.id, by, note, runNote });
      let lost = false;
      if (d.lost && file) lost = setFileStatus(ctx.db, file.id, "offloaded", "missing", run.id);
      return { acknowledged: d.ids, n, lost };
    });
    return { status: "success", counts: { acknowledged: r.n, files_given_up: r.lost ? 1 : 0 }, result: r };
  });
  const alarms = out.result.acknowledged.map((x) => alarmView(getAlarm(ctx.db, x)!));
  return { run_id: out.run.id, alarm: alarms.find((x) => x.id === id)!, acknowledged: alarms, file_given_up: out.result.lost, note, by };
}

function refusal(a: AlarmRow, code: "alarm_already_acked" | "alarm_cleared" | "alarm_not_lost", holders: string[]) {
  const what = `${a.volume}/${a.path} at ${a.destination}`;
  if (code === "alarm_already_acked")
    return refused(code, `refused: alarm ${a.id} (${what}) was already acknowledged at ${nsToIso(a.acked_at!)} by ${a.acked_by} (run ${a.acked_run}): ${JSON.stringify(a.acked_note)}; an acknowledgement is never changed`, "see `hoard alarms --all`", { alarm: a.id });
  if (code === "alarm_cleared")
    return refused(code, `refused: alarm ${a.id} (${what}) was cleared by run ${a.cleared_run}: ${a.destination} holds the file again, there is nothing to acknowledge`, "see `hoard alarms --all`", { alarm: a.id });
  return refused(
    code,
    `refused: ${a.volume}/${a.path} is not lost: ${holders.join(", ")} still hold${holders.length === 1 ? "s" : ""} it (the latest check there held)`,
    `restore it from there (\`hoard restore ${a.volume} ${JSON.stringify(a.path)} --from ${holders[0]}\`), then \`hoard sync ${a.volume} --to ${a.destination}\` pushes it to ${a.destination} again`,
    { alarm: a.id, holders },
  );
}
