// Recording what is where: `index` (BLAKE3 of every file), `sync` (push and verify) and `verify`
// (re-check without transferring), with the summary of each check they print.

import { withApp } from "./app.ts";
import { appCommand, command } from "./define.ts";
import { bytes, fileList } from "./output.ts";
import { usageError } from "../kernel/errors.ts";
import { indexVolume } from "../ops/indexing.ts";
import { checkBwlimit, syncAll, syncTargets } from "../ops/sync-all.ts";
import type { checkEach } from "../ops/sync.ts";
import { verifyDestination } from "../ops/verify.ts";

const indexCmd = appCommand({
  name: "index",
  description: "walk a volume and record every file's BLAKE3",
  args: {
    volume: { type: "positional", description: "volume name", required: true, complete: "volume" },
    shallow: { type: "boolean", description: "trust size+mtime: hash only new or changed files" },
    dryRun: { type: "boolean", alias: "n", description: "report what would change; write nothing" },
  },
  async run(app, args) {
    const r = await indexVolume(app.ctx, args.volume, { shallow: args.shallow, dryRun: args.dryRun, trigger: "cli" });
    const c = r.counts;
    const lines = [
      `${r.dry_run ? "[dry run] " : ""}index ${r.volume}${r.run_id !== null ? ` (run ${r.run_id})` : ""}: ${r.status}`,
      `  ${c.files} files, ${bytes(c.bytes)} (hashed ${bytes(c.hashed_bytes)})`,
      `  new ${c.new}, changed ${c.changed}, reverted ${c.reverted}, unchanged ${c.unchanged}, reappeared ${c.reappeared}, missing ${c.missing}`,
      `  skipped ${c.skipped}, errors ${c.errors}${c.excluded ? `, excluded ${c.excluded}` : ""}${c.offloaded_conflicts ? `, offloaded paths with a file ${c.offloaded_conflicts}` : ""}${c.leftovers_removed ? `, leftovers of an interrupted hoard run removed ${c.leftovers_removed}` : ""}`,
      ...r.problems.slice(0, 50).map((p) => `  ! ${p.path}: ${p.message}`),
      ...(r.problems.length > 50 ? [`  … and ${r.problems.length - 50} more (see --json)`] : []),
    ];
    if (r.status === "partial") app.ctx.log.warn(`${c.errors} entries could not be indexed; files were not marked missing`);
    return { data: r, human: lines.join("\n"), status: r.dry_run ? "success" : r.status };
  },
});

/** What held and how: "verified" only for content compared in this run (receipts and size matches are named as such). */
function holdLine(c: { manifest: number; verified: number; checked: number; unchanged: number; size_only: number; transferred: number; failed: number }): string {
  const how = [c.checked ? `${c.checked} verified by content` : "", c.unchanged ? `${c.unchanged} unchanged since their last content check (not read again)` : "", c.size_only ? `${c.size_only} matched by size only (not verified)` : ""].filter(Boolean);
  return `${c.verified}/${c.manifest} hold${how.length ? `: ${how.join(", ")}` : ""}; ${c.transferred} transferred, ${c.failed} failed`;
}
function checkHuman(results: Awaited<ReturnType<typeof checkEach>>): string {
  const out: string[] = [];
  for (const r of results) {
    const c = r.counts;
    out.push(`${r.kind} ${r.volume} → ${r.destination}${r.run_id !== null ? ` (run ${r.run_id})` : ""}: ${r.status}`);
    if ("error" in r) {
      out.push(`  ${r.error.message}${r.error.hint ? `\n  next: ${r.error.hint}` : ""}`);
      continue;
    }
    if (r.status === "dry-run") {
      const s = r.would_send;
      out.push(`  would check ${c.manifest} files (${bytes(c.bytes)})${s ? `; would send ${s.files} files (${bytes(s.bytes)}) it holds no verified copy of${s.files ? ":" : ""}` : ""}`);
      if (s) out.push(...fileList(s.paths.map((path) => ({ path }))));
    }
    else out.push(`  ${holdLine(c)}`);
    for (const e of r.evidence) out.push(`  evidence ${e.origin_node}: ${e.result}${e.origin_run !== null ? ` up to run ${e.origin_run}` : ""}${e.method ? ` (${e.method})` : ""}${e.blocked ? `; blocked at run ${e.blocked.origin_run} by ${e.blocked.path}: ${e.blocked.reason}` : ""}`);
    for (const f of r.failures.slice(0, 20)) out.push(`  ! ${f.path}: ${f.reason}`);
    if (r.failures.length > 20) out.push(`  … and ${r.failures.length - 20} more`);
    for (const a of r.alarms) out.push(`  ALARM ${a.path}: offloaded file not safe at ${r.destination}: ${a.reason}`);
    for (const w of r.warnings) out.push(`  warning: ${w}`);
  }
  const sends = results.flatMap((r) => ("would_send" in r && r.would_send ? [`${r.volume} → ${r.destination} ${r.would_send.files} files (${bytes(r.would_send.bytes)})`] : []));
  if (sends.length > 1) out.push(`[dry run] would send: ${sends.join(", ")}`);
  return out.join("\n");
}
const worst = (statuses: string[]) => (statuses.includes("failed") ? "failed" : statuses.includes("partial") ? "partial" : "success");

const syncCmd = command({
  name: "sync",
  description: "push volumes to their destinations and record verified evidence",
  args: {
    volume: { type: "positional", required: false, description: "volume (default: all)", complete: "volume" },
    all: { type: "boolean", description: "every volume, said explicitly (for cron: hoard sync --all && hoard status --check)" },
    to: { type: "string", description: "only this destination", complete: "destination" },
    dryRun: { type: "boolean", alias: "n", description: "check identities and report what would be pushed" },
    index: { type: "boolean", description: "index each volume first (without it, sync warns when the tree changed since the last index)" },
    bwlimit: { type: "string", valueHint: "RATE", description: "bandwidth limit passed to rclone destinations (rclone's syntax: 10M, 512k, off; UP:DOWN)" },
  },
  async run(args) {
    if (args.all && args.volume !== undefined) throw usageError("all_and_volume", `--all syncs every volume; it does not go with volume ${JSON.stringify(args.volume)}`, "give either VOLUME or --all");
    const bwlimit = args.bwlimit === undefined ? undefined : checkBwlimit(String(args.bwlimit));
    return withApp(args, async (app) => {
      // every destination is synced and reported, whatever happened at the others
      const r = await syncAll(app.ctx, syncTargets(app.ctx, args.volume, args.to), { dryRun: args.dryRun, bwlimit, index: !!args.index });
      const results = r.results;
      const alarms = results.reduce((s, r) => s + r.alarms.length, 0);
      const broken = results.filter((r) => r.status === "refused" || r.status === "failed" || r.status === "partial").length;
      const indexBroken = (r.index ?? []).some((i) => i.status !== "success");
      const human = [...(r.index ?? []).map((i) => ("error" in i ? `index ${i.volume}: failed: ${i.error.message}` : `${i.dry_run ? "[dry run] " : ""}index ${i.volume}${i.run_id !== null ? ` (run ${i.run_id})` : ""}: ${i.status}; new ${i.counts.new}, changed ${i.counts.changed}, missing ${i.counts.missing}`)), checkHuman(results)];
      return { data: { results, alarms, index: r.index, tree_changed: r.tree_changed }, human: human.join("\n"), status: alarms || indexBroken || (broken && results.length > 1) ? "partial" : worst(results.map((r) => r.status)) };
    });
  },
});

const verifyCmd = appCommand({
  name: "verify",
  description: "re-check a destination without transferring; refreshes evidence honestly",
  args: {
    dest: { type: "positional", required: true, description: "destination", complete: "destination" },
    volume: { type: "positional", required: false, description: "volume (default: every volume using the destination)", complete: "volume" },
  },
  async run(app, args) {
    const results = await verifyDestination(app.ctx, args.dest, args.volume);
    const alarms = results.reduce((s, r) => s + r.alarms.length, 0);
    return { data: { results, alarms }, human: checkHuman(results), status: alarms ? "partial" : worst(results.map((r) => r.status)) };
  },
});

/** index, sync and verify, for the command tree. */
export const syncCommands = { index: indexCmd, sync: syncCmd, verify: verifyCmd };
