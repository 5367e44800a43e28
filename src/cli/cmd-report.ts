// Looking: `status` (and `--check` for cron), `evidence` (with `expire` and `rewind`), `runs` (with
// `show` and `abort`) and `ls`. Read-only except rewind, expire and abort.

import { withApp } from "./app.ts";
import { appCommand, command, parseId, readCommand, restWords } from "./define.ts";
import { age, bytes, table, when } from "./output.ts";
import { refused, usageError } from "../kernel/errors.ts";
import { abortRun } from "../kernel/runs.ts";
import { evidenceReport } from "../ops/status.ts";
import { evidenceRewind } from "../ops/rewind.ts";
import { statusOverview } from "../ops/overview.ts";
import { orphanProblem } from "../ops/setup.ts";
import { runDetail, runList } from "../ops/runs.ts";
import { listFiles } from "../ops/ls.ts";
import { resolveSelectors } from "../ops/select.ts";
import { evidenceExpireCmd } from "./cmd-expire.ts";

const volumeOrAll = { type: "positional", required: false, description: "volume (default: all)", complete: "volume" } as const;

const statusCmd = readCommand({
  name: "status",
  description: "files by status, per-destination coverage, evidence age, alarms, offloadable bytes",
  args: {
    volume: volumeOrAll,
    check: { type: "boolean", description: "for cron/monitoring: exit 4 when a required destination is not initialised, has stale evidence, a file whose latest check failed, or a last sync that failed, was partial or was refused, or an alarm stands; 0 otherwise" },
  },
  async run(app, args) {
    // volumes dropped from the config that still hold offloaded files or alarms stay monitored
    const r = await statusOverview(app.ctx, args.volume);
    const lines: string[] = [];
    for (const s of r.volumes) {
      lines.push(`volume ${s.volume} (${s.path})`);
      for (const [st, c] of Object.entries(s.files)) lines.push(`  ${st.padEnd(10)} ${String(c.files).padStart(8)} files  ${bytes(c.bytes)}`);
      for (const d of s.destinations) {
        lines.push(`  → ${d.name}${d.required ? " (required)" : ""}: ${d.initialised ? "" : "NOT INITIALISED, "}last sync ${d.last_sync ? `run ${d.last_sync.run_id} ${d.last_sync.status} ${when(d.last_sync.at)}` : "never"}; covers ${d.coverage.files}/${d.coverage.of} files; method ${d.methods.join(",") || "-"}; evidence age ${age(d.evidence_age_s)}; oldest content check ${age(d.oldest_content_check_s)}${d.never_content_checked ? ` (${d.never_content_checked} never checked)` : ""}`);
        for (const a of d.alarms) lines.push(`    ALARM ${a.path}: ${a.reason}`);
      }
      lines.push(`  offloadable now: ${s.offloadable.files} files, ${bytes(s.offloadable.bytes)}`);
      const k = s.kept_aside;
      if (k.files) {
        lines.push(`  kept aside by restores: ${k.files} files (${bytes(k.bytes)}), different files found where restored ones belonged; look at them, then delete what you do not need:`);
        for (const p of k.paths) lines.push(`    ${p}`);
        if (k.more) lines.push(`    … ${k.more} more`);
      }
    }
    for (const o of r.removed_volumes) lines.push(`volume ${o.volume} (${o.path}): NOT IN THE CONFIG, ${o.offloaded.files} offloaded files (${bytes(o.offloaded.bytes)})${o.alarms ? `, ${o.alarms} open alarm${o.alarms === 1 ? "" : "s"}` : ""}: nothing monitors them\n  next: ${orphanProblem(o).hint}`);
    const problems = r.problems;
    if (args.check) lines.push(problems.length ? problems.map((p) => `PROBLEM ${p.volume}${p.destination ? ` → ${p.destination}` : ""}: ${p.message}\n  next: ${p.hint}`).join("\n") : "check: ok");
    return { data: r, human: lines.join("\n") || "no volumes", status: args.check ? (problems.length ? "partial" : "success") : undefined };
  },
});

const evidenceCmd = readCommand({
  name: "evidence",
  description: "show the evidence vector and when each component expires; `evidence expire` records lapses, `evidence rewind` lowers one component",
  args: { volume: volumeOrAll },
  subCommands: {
    expire: evidenceExpireCmd,
    rewind: command({
      name: "rewind",
      description: "lower one evidence component (guarded by --yes; recorded in history)",
      args: {
        volume: { type: "positional", required: true, description: "volume", complete: "volume" },
        dest: { type: "positional", required: true, description: "destination", complete: "destination" },
        origin: { type: "string", required: true, description: "origin node" },
        to: { type: "string", required: true, description: "new (lower) origin run", complete: "destination" },
        yes: { type: "boolean", description: "really do it" },
      },
      async run(args) {
        if (args.origin === undefined || args.to === undefined) throw usageError("missing_option", "evidence rewind needs --origin NODE and --to RUN");
        return withApp(args, async (app) => {
          const r: any = await evidenceRewind(app.ctx, args.volume, args.dest, args.origin, parseId(args.to), !!args.yes);
          if (!r.applied) throw refused("needs_yes", `refused: ${r.message}`, "add --yes to lower the evidence");
          return { data: r, human: `evidence ${r.volume}/${r.destination}/${r.origin_node}: lowered from run ${r.from} to ${r.to}`, status: "success" };
        });
      },
    }),
  },
  async run(app, args) {
    const data = await evidenceReport(app.ctx, args.volume);
    return {
      data: { evidence: data },
      human: data.length ? table(["volume", "destination", "origin", "run", "method", "verified", "expires", "confirmed", "source", "epoch"], data.map((e) => [e.volume, e.destination, e.origin_node, e.origin_run, e.method || "-", e.verified_age_s === null ? "never" : `${age(e.verified_age_s)} ago`, e.stale ? (e.expires_in_s === null ? "EXPIRED" : `EXPIRED ${age(-e.expires_in_s)} ago`) : e.expires_in_s === null ? "-" : `in ${age(e.expires_in_s)}`, e.confirmed_run, e.source, `${e.epoch}${e.current_epoch ? "" : " (old)"}`])) : "no evidence yet (hoard sync)",
    };
  },
});

const runsCmd = readCommand({
  name: "runs",
  description: "list runs (newest first); `runs show ID`, `runs abort ID`",
  args: {
    volume: { type: "string", description: "only runs of this volume", complete: "volume" },
    kind: { type: "string", description: "only runs of this kind (index, sync, verify, offload, restore, …)" },
    limit: { type: "string", description: "how many (default 20)" },
  },
  subCommands: {
    show: readCommand({
      name: "show",
      description: "show one run",
      args: { id: { type: "positional", required: true, description: "run id" } },
      run(app, args) {
        const data = runDetail(app.ctx, parseId(args.id));
        if (!data) throw usageError("no_such_run", `run ${args.id} does not exist`, "list runs with `hoard runs`");
        const human = Object.entries(data).map(([k, v]) => `${k.padEnd(12)} ${typeof v === "bigint" && k.endsWith("_at") ? when(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : v ?? "-"}`).join("\n");
        return { data, human };
      },
    }),
    abort: appCommand({
      name: "abort",
      description: "mark a running run aborted (its process is gone); refused while it is alive on this node; recorded with a note",
      args: { id: { type: "positional", required: true, description: "run id" }, note: { type: "string", description: "why" }, force: { type: "boolean", description: "abort a run of another node (whose process this node cannot see)" } },
      run(app, args) {
        const r = abortRun(app.ctx.db, parseId(args.id), { note: args.note ?? "aborted by hand (hoard runs abort)", node: app.ctx.node, force: !!args.force });
        return { data: { run_id: parseId(args.id), status: "aborted", forced: r.forced, node: r.node }, human: r.forced ? `run ${args.id} of node ${r.node} aborted (forced: this node could not check its process)` : `run ${args.id} aborted`, status: "success" };
      },
    }),
  },
  run(app, args) {
    const limit = args.limit === undefined ? 20 : Number(args.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw usageError("bad_limit", `--limit must be a positive integer`);
    const data = runList(app.ctx, { volume: args.volume, kind: args.kind, limit });
    return { data: { runs: data }, human: table(["id", "kind", "volume", "dest", "status", "started", "error/note"], data.map((r) => [r.id, r.kind, r.volume, r.destination, r.status, when(r.started_at), (r.error ?? r.note ?? "").slice(0, 60)])) };
  },
});

const STATE: Record<string, string> = { dest_not_initialised: "not-initialised" };
const lsCmd = readCommand({
  name: "ls",
  description: "list files (PATH…: files, directories or globs; default all): status, size and, per destination, whether its evidence would let an offload go",
  args: { volume: { type: "positional", required: true, description: "volume", complete: "volume" } },
  rest: { hint: "[PATH…]", complete: "path" },
  async run(app, args) {
    const raw = restWords(args);
    const r = await listFiles(app.ctx, args.volume, resolveSelectors(raw, app.config.volumes[args.volume]?.path));
    const heads = ["path", "status", "size", ...r.destinations.map((d) => `${d.name}${d.required ? "*" : ""}`)];
    const rows = r.files.map((f) => [f.path, f.status, bytes(f.size), ...f.evidence.map((e) => (e.safe ? "safe" : STATE[e.code!] ?? e.code!.replace(/_/g, "-")))]);
    const lines = [
      r.files.length ? table(heads, rows) : `no files${raw.length ? " match" : " indexed (hoard index " + r.volume + ")"}`,
      `${r.counts.files} files, ${bytes(r.counts.bytes)}: ${r.counts.present} present, ${r.counts.offloaded} offloaded, ${r.counts.missing} missing${r.destinations.some((d) => d.required) ? "  (* required by offload_requires)" : ""}`,
      ...r.unmatched.map((u) => `! ${u} matched no file`),
    ];
    return { data: r, human: lines.join("\n") };
  },
});

/** status, evidence, runs and ls, for the command tree. */
export const reportCommands = { ls: lsCmd, status: statusCmd, evidence: evidenceCmd, runs: runsCmd };
