// The command tree, assembled in one place from the feature modules (cmd-*.ts); each command parses
// its arguments, calls one workflow from src/ops, and renders the result. No SQL and no decisions here.

import type { Command } from "./dispatch.ts";
import { command } from "./define.ts";
import { setupCommands as s } from "./cmd-setup.ts";
import { syncCommands } from "./cmd-sync.ts";
import { offloadCommands } from "./cmd-offload.ts";
import { reportCommands as r } from "./cmd-report.ts";
import { maintCommands } from "./cmd-maint.ts";
import { demoCommands } from "./cmd-demo.ts";
import { hooksCommands } from "./cmd-hooks.ts";
import { shellCommands } from "./cmd-shell.ts";
import { alarmCommands } from "./cmd-alarms.ts";

export function commandTree(version: string): Command {
  const root: Command = command({
    name: "hoard",
    version,
    description: "prove a file is safe elsewhere before deleting the local copy",
    subCommands: {
      init: s.init,
      volume: s.volume,
      ls: r.ls,
      volumes: s.volumes,
      ...syncCommands,
      ...offloadCommands,
      status: r.status,
      evidence: r.evidence,
      dest: s.dest,
      dests: s.dests,
      runs: r.runs,
      ...maintCommands,
      key: s.key,
      ...demoCommands(),
      ...hooksCommands(),
      // completion is generated from this very tree
      ...shellCommands(() => root),
      ...alarmCommands(),
    },
  });
  return root;
}
