// Deleting local copies and getting them back: `offload`, `restore`, and `recover` (a lost database
// rebuilt from the signed catalogs at a destination).

import { withApp } from "./app.ts";
import { appCommand, command, repeated, restWords } from "./define.ts";
import { bytes, fileList } from "./output.ts";
import { Spool } from "./spool.ts";
import { usageError } from "../kernel/errors.ts";
import { offload, offloadSelectors } from "../ops/offload.ts";
import { restore } from "../ops/restore.ts";
import { recover } from "../ops/recover.ts";
import { resolveSelectors } from "../ops/select.ts";
import { checkBwlimit } from "../ops/sync-all.ts";

const offloadCmd = appCommand({
  name: "offload",
  description: "delete local copies that every required destination provably holds (PATH… or . for all)",
  args: {
    volume: { type: "positional", required: true, description: "volume", complete: "volume" },
    olderThan: { type: "string", description: "only files whose mtime is older than this (e.g. 30d)" },
    dryRun: { type: "boolean", alias: "n", description: "decide from the database only; delete nothing (with --confirm: also ask every required destination live, recording nothing)" },
    confirm: { type: "string", description: "depth of the live confirmation at every required destination: presence (exists with the indexed size) or content (hash compared end to end); default: each destination's offload_confirm" },
  },
  rest: { hint: "PATH…", complete: "path" },
  async run(app, args) {
    const selectors = offloadSelectors(app.ctx, args.volume, restWords(args));
    if (args.confirm !== undefined && args.confirm !== "presence" && args.confirm !== "content")
      throw usageError("bad_confirm", `--confirm ${JSON.stringify(args.confirm)}: expected presence or content`, "e.g. --confirm content");
    // the human summary lists the first files only: a dry run over a big volume keeps no list of every file
    const shown: { path: string; size: number }[] = [];
    // and --json streams the list through a spool file: a dry run over a big volume keeps no list of every file
    const spool = args.json && args.dryRun ? new Spool() : undefined;
    const onWouldOffload = spool ? (f: { path: string; size: number }) => spool.add(f) : args.json ? undefined : (f: { path: string; size: number }) => void (shown.length < 20 && shown.push(f));
    const r = await offload(app.ctx, args.volume, selectors, { olderThan: args.olderThan, dryRun: args.dryRun, confirm: args.confirm as "presence" | "content" | undefined, onWouldOffload, listLimit: args.json ? undefined : 20 });
    const c = r.counts;
    const would = r.would_offload?.length ?? c.offloadable - c.unconfirmed;
    const lines = [
      `${r.dry_run ? "[dry run] " : ""}offload ${r.volume}${r.run_id !== null ? ` (run ${r.run_id})` : ""}: ${r.status}`,
      ...(r.dry_run
        ? [
            `  ${c.offloadable} of ${c.selected} selected files may be offloaded (${bytes(c.offloadable_bytes)})${would ? `; the local copies that would be deleted:` : ""}`,
            ...fileList(r.would_offload ?? shown, "    ", would),
            ...(would ? [`  nothing is transferred: every required destination (${app.config.volumes[r.volume]!.offload_requires.join(", ")}) already holds verified evidence for them`] : []),
          ]
        : []),
      ...(r.dry_run ? [] : [`  offloaded ${c.offloaded} files (${bytes(c.offloaded_bytes)}) of ${c.selected} selected`]),
      ...(c.refused ? [`  kept ${c.refused} files that are not provably safe:`] : []),
      ...r.refusals.map((g) => `    ${g.destination}: ${g.files} files: ${g.reason}\n      next: ${g.hint}${g.examples.length ? `\n      e.g. ${g.examples.slice(0, 3).join(", ")}` : ""}`),
      ...(c.unconfirmed ? [`  kept ${c.unconfirmed} files a destination did not confirm live:`] : []),
      ...r.problems.map((p) => `  ! ${p.path}: ${p.code}: ${p.message}`),
      ...r.destinations.filter((d) => !d.asked).map((d) => `  ${d.name}: ${d.note}`),
      ...r.destinations.filter((d) => d.asked).map((d) => `  ${d.name}: confirmed ${d.presence} by presence, ${d.content} by content${d.unconfirmed ? `, ${d.unconfirmed} not confirmed` : ""}`),
      ...r.unmatched.map((u) => `  ! selector ${u} matched no present file`),
    ];
    return { data: r, ...(spool ? { jsonList: { key: "would_offload", spool } } : {}), human: lines.join("\n"), status: r.dry_run ? (r.counts.unconfirmed ? "partial" : "success") : r.status };
  },
});

/** Per destination a dry-run restore would fetch from: files and bytes. */
function perSource(files: { from: string; size: number }[]): string[] {
  const m = new Map<string, { files: number; bytes: number }>();
  for (const f of files) {
    const t = m.get(f.from) ?? { files: 0, bytes: 0 };
    t.files++;
    t.bytes += f.size;
    m.set(f.from, t);
  }
  return [...m].map(([d, t]) => `  from ${d}: ${t.files} files (${bytes(t.bytes)})`);
}

const restoreCmd = command({
  name: "restore",
  description: "bring offloaded files back (default: all of the volume, in place)",
  args: {
    volume: { type: "positional", required: true, description: "volume", complete: "volume" },
    from: { type: "string", description: "restore from this destination", complete: "destination" },
    to: { type: "string", description: "restore into this directory instead (changes no rows)", complete: "dir" },
    dryRun: { type: "boolean", alias: "n", description: "say what would be restored" },
    missing: { type: "boolean", description: "also restore files the index found missing (deleted locally) that a destination holds" },
    bwlimit: { type: "string", valueHint: "RATE", description: "bandwidth limit passed to rclone destinations (rclone's syntax: 10M, 512k, off; UP:DOWN)" },
  },
  rest: { hint: "[PATH…]", complete: "path" },
  async run(args) {
    const bwlimit = args.bwlimit === undefined ? undefined : checkBwlimit(String(args.bwlimit));
    return withApp(args, async (app) => {
      const selectors = resolveSelectors(restWords(args), app.config.volumes[args.volume]?.path);
      const r = await restore(app.ctx, args.volume, selectors, { from: args.from, to: args.to, dryRun: args.dryRun, missing: args.missing, bwlimit });
      const c = r.counts;
      const lines = [
        `${r.dry_run ? "[dry run] " : ""}restore ${r.volume}${r.run_id !== null ? ` (run ${r.run_id})` : ""} into ${r.target}: ${r.status}`,
        ...(r.dry_run ? [`  would restore ${r.restored.length} of ${c.selected} files (${bytes(r.restored.reduce((n, f) => n + f.size, 0))})${r.restored.length ? ":" : ""}`, ...fileList(r.restored), ...perSource(r.restored)] : []),
        ...(r.dry_run ? [] : [`  restored ${c.restored} files (${bytes(c.bytes)}), ${c.failed + c.no_source} not restored${c.kept_existing ? `, ${c.kept_existing} different existing files kept under .hoard/restore-history` : ""}`]),
        ...r.kept.map((k) => `  kept your different ${k.path} as ${k.kept_at}`),
        ...r.failures.map((f) => `  ! ${f.path}: ${f.reason}`),
        ...r.unmatched.map((u) => `  ! selector ${u} matched no offloaded file`),
      ];
      return { data: r, human: lines.join("\n"), status: r.dry_run ? "success" : r.status };
    });
  },
});

const recoverCmd = command({
  name: "recover",
  description: "rebuild a lost database (or a second machine's) from the signed catalogs at a destination, then verify there",
  args: {
    from: { type: "string", required: true, description: "the destination to read catalogs from", complete: "destination" },
    volume: { type: "string", description: "only this volume (repeatable; default: every volume using the destination)", complete: "volume" },
    trust: { type: "string", description: "also trust catalogs signed by this key fingerprint (hoard:…; repeatable)" },
    verify: { type: "boolean", default: true, description: "verify the destination after the rebuild, so files can be restored (--no-verify: skip; run `hoard verify` yourself)" },
  },
  async run(args, rawArgs) {
    if (typeof args.from !== "string" || !args.from) throw usageError("missing_option", "recover needs --from DEST", "e.g. hoard recover --from nas");
    // recover is the one command (besides init) that may create a missing database
    return withApp(args, async (app) => {
      const r = await recover(app.ctx, { from: args.from, volumes: repeated(rawArgs, "volume"), trust: repeated(rawArgs, "trust"), verify: args.verify !== false });
      const lines = [`recover from ${r.destination} (${r.type}, identity ${r.identity}, epoch ${r.epoch}, ${r.pin}): ${r.status}`];
      for (const v of r.volumes) {
        lines.push(`  ${v.volume} (${v.path}): ${v.catalog ? `catalog ${v.catalog.name} of node ${v.catalog.node}, signed ${v.catalog.fingerprint} (${v.catalog.signer})` : "NO valid trusted catalog"}`);
        for (const c of v.refused_catalogs) lines.push(`    refused ${c.name}: ${c.reason}`);
        if (v.catalog) lines.push(`    rebuilt ${v.rows.present} present, ${v.rows.offloaded} offloaded; ${v.rows.conflicts} different files left alone`);
        for (const k of v.conflicts.slice(0, 20)) lines.push(`    ! ${k.path}: ${k.reason}`);
        for (const a of v.actions) lines.push(`    ${a}`);
        if (v.verify) lines.push(`    verify: ${v.verify.status}, ${v.verify.verified} verified, ${v.verify.failed} not verified${v.verify.error ? ` (${v.verify.error})` : ""}`);
        else if (v.catalog) lines.push(`    next: hoard verify ${r.destination} ${v.volume}, then hoard restore ${v.volume}`);
      }
      return { data: r, human: lines.join("\n"), status: r.status };
    }, { mayCreateDb: () => true });
  },
});

/** offload, restore and recover, for the command tree. */
export const offloadCommands = { offload: offloadCmd, restore: restoreCmd, recover: recoverCmd };
