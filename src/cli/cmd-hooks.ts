// The hooks command: `hoard hooks [--volume V] [--limit N]`
// lists volume hook runs, newest first (secret values of the current config redacted, old rows too).

import type { Command } from "./dispatch.ts";
import { withApp } from "./app.ts";
import { command } from "./define.ts";
import { table, when } from "./output.ts";
import { usageError } from "../kernel/errors.ts";
import { formatDuration } from "../kernel/duration.ts";
import { hookRunList } from "../ops/hook-list.ts";

const hooksCmd = command({
  name: "hooks",
  description: "list volume hook runs (newest first): status, exit code or signal, stderr tail",
  args: {
    volume: { type: "string", description: "only hooks of this volume", complete: "volume" },
    limit: { type: "string", description: "how many (default 20)" },
  },
  async run(args) {
    const limit = args.limit === undefined ? 20 : Number(args.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw usageError("bad_limit", "--limit must be a positive integer");
    return withApp(args, async (app) => {
      const rows = hookRunList(app.ctx, { volume: args.volume, limit });
      const last = (s: string | null) => (s ?? "").trim().split("\n").pop()!.slice(0, 60);
      const human = rows.length
        ? table(
            ["id", "volume", "run", "trigger", "status", "started", "took", "exit", "note / stderr"],
            rows.map((r) => [r.id, r.volume, r.trigger_run, r.trigger, r.status, when(r.started_at), r.finished_at === null ? "-" : formatDuration(r.finished_at - r.started_at), r.signal ?? r.exit_code, last(r.note) || last(r.stderr_tail)]),
          )
        : "no hook runs";
      return { data: { hooks: rows }, human };
    });
  },
});

export function hooksCommands(): Record<string, Command> {
  return { hooks: hooksCmd };
}
