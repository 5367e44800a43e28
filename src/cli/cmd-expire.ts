// `hoard evidence expire [VOLUME] [--dry-run]`: records an `expire` event in the evidence history
// for every component that crossed its staleness limit, once per crossing (a subcommand of evidence).

import { appCommand } from "./define.ts";
import { table, when } from "./output.ts";
import { expireEvidence } from "../ops/expire.ts";

export const evidenceExpireCmd = appCommand({
  name: "expire",
  description: "record an `expire` event in the evidence history for each component past its max age (once per crossing)",
  args: {
    volume: { type: "positional", required: false, description: "volume (default: all)", complete: "volume" },
    dryRun: { type: "boolean", description: "say what would be recorded; write nothing" },
  },
  async run(app, args) {
    const r = await expireEvidence(app.ctx, { volume: args.volume, dryRun: !!args.dryRun });
    const head = `${r.dry_run ? "[dry run] " : ""}${r.stale} stale of ${r.checked} limited components; ${r.dry_run ? `${r.components.filter((c) => c.result === "would-record").length} would be recorded` : `${r.recorded} expire events recorded`}`;
    const rows = r.components.map((c) => [c.volume, c.destination, c.origin_node, c.origin_run, c.verified_at === null ? "never" : when(c.verified_at), c.expires_at === null ? "-" : when(c.expires_at), c.why, c.result === "already-recorded" ? `already recorded ${when(c.recorded_at)}` : c.result]);
    return { data: r, human: rows.length ? `${head}\n${table(["volume", "destination", "origin", "run", "verified", "expired", "limit", "event"], rows)}` : head, status: "success" };
  },
});
