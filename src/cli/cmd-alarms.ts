// The alarm commands: `hoard alarms [VOLUME] [--all]` lists alarms, `hoard alarm ack ID --note TEXT`
// acknowledges one (a file lost for good), recorded and never deleted.

import type { Command } from "./dispatch.ts";
import { withApp } from "./app.ts";
import { command, readCommand } from "./define.ts";
import { table, when } from "./output.ts";
import { usageError } from "../kernel/errors.ts";
import { ackAlarm, alarmsReport } from "../ops/alarms.ts";

const alarmsCmd = readCommand({
  name: "alarms",
  description: "list alarms (offloaded files a destination no longer holds intact): open ones, or --all",
  args: {
    volume: { type: "positional", required: false, description: "volume (default: all)", complete: "volume" },
    all: { type: "boolean", description: "also acknowledged and cleared alarms" },
  },
  run(app, args) {
    const data = alarmsReport(app.ctx, { volume: args.volume, all: !!args.all });
    const human = data.length
      ? table(
          ["id", "state", "volume", "dest", "path", "reason", "raised", "acknowledged"],
          data.map((a) => [a.id, a.state, a.volume, a.destination, a.path, a.reason.slice(0, 60), when(a.raised_at), a.acked ? `${when(a.acked.at)} by ${a.acked.by}: ${a.acked.note}` : a.state === "cleared" ? `(cleared by run ${a.cleared_run})` : "-"]),
        ) + (data.some((a) => a.state === "open") ? "\nnext: restore a file from another destination (`hoard restore VOLUME PATH --from DEST`), or, if it is lost for good, `hoard alarm ack ID --note \"why\"`" : "")
      : args.all
        ? "no alarms"
        : "no open alarms (`hoard alarms --all` also lists acknowledged and cleared ones)";
    return { data: { alarms: data }, human };
  },
});

const ackCmd = command({
  name: "ack",
  description: "acknowledge an alarm: the file is lost for good (recorded with --note, never deleted; `status --check` stops counting it)",
  args: {
    id: { type: "positional", required: true, description: "alarm id (see `hoard alarms`)" },
    note: { type: "string", description: "why the file is given up (required; kept with the acknowledgement)" },
  },
  async run(args) {
    if (!/^\d+$/.test(String(args.id))) throw usageError("bad_id", `${JSON.stringify(args.id)} is not an alarm id`, "list them with `hoard alarms`");
    const note = typeof args.note === "string" ? args.note.trim() : "";
    if (!note) throw usageError("missing_option", "alarm ack needs --note TEXT: why the file is given up", `e.g. hoard alarm ack ${args.id} --note "the only copy was on the stolen disk"`);
    return withApp(args, async (app) => {
      const r = await ackAlarm(app.ctx, BigInt(args.id), note);
      const a = r.alarm;
      const lines = [`alarm ${r.acknowledged.map((x) => x.id).join(", ")} acknowledged (run ${r.run_id}, by ${r.by}): ${a.volume}/${a.path}`];
      if (r.file_given_up) lines.push(`  the file is given up: its row is now missing (history kept); \`hoard status --check\` no longer counts it`);
      else lines.push(`  the file's row is unchanged (it is no longer offloaded with that content)`);
      return { data: r, human: lines.join("\n"), status: "success" };
    });
  },
});

/** `alarms` and `alarm ack`, for the command tree. */
export function alarmCommands(): Record<string, Command> {
  return {
    alarms: alarmsCmd,
    alarm: command({ name: "alarm", description: "act on one alarm: `alarm ack ID --note TEXT`", subCommands: { ack: ackCmd } }),
  };
}
