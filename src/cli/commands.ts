// The command tree: each command parses its arguments, calls one workflow from src/ops, and turns
// the result into a JSON document and a human rendering. No SQL and no decisions live here.

import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineCommand } from "citty";
import type { Command, CmdResult } from "./dispatch.ts";
import { noVolumeEverAdded, openApp, type App, type GlobalArgs, type OpenOptions } from "./app.ts";
import { age, bytes, table, when } from "./output.ts";
import { configError, refused, usageError } from "../kernel/errors.ts";
import { checkDb, dbIsEmpty, mkdirPrivate, openDb, SCHEMA_VERSION } from "../kernel/db.ts";
import { abortRun, getRun, listRuns } from "../kernel/runs.ts";
import { getVolume, listVolumes, readMarker, recordVolume, writeMarker } from "../kernel/volumes.ts";
import { assertVolumeDisjoint, resolveConfigPath, resolveDbPath, readConfigText } from "../config/load.ts";
import { addVolumeToConfigText, writeFileAtomic, writeNewPrivateFile } from "../config/edit.ts";
import { starterConfig } from "../config/starter.ts";
import { sanitisedHostname } from "../kernel/runtime.ts";
import { indexVolume } from "../ops/indexing.ts";
import { checkBwlimit, checkEach, checkVolume, syncAll, syncTargets, volumesFor } from "../ops/sync.ts";
import { offload } from "../ops/offload.ts";
import { restore } from "../ops/restore.ts";
import { destInit, destList, destReset, requireDestination } from "../ops/dest-admin.ts";
import { evidenceReport, evidenceRewind, volumeStatus } from "../ops/status.ts";
import { extraCommands } from "./extra.ts";
import { alarmCommands } from "./cmd-alarms.ts";
import { destAddCmd, lsCmd, prepareVolumeAdd, volumeRmCmd, withReadApp } from "./cmd-everyday.ts";
import { exampleSelector, resolveSelectors } from "../ops/select.ts";
import { orphanedVolumes, orphanProblem } from "../ops/setup.ts";
import { liveFiles } from "../kernel/files.ts";
import { evidenceExpireCmd } from "./cmd-expire.ts";
import { protectionProblems } from "../ops/expire.ts";
import { nodeKey } from "../kernel/keys.ts";
import { loadRegistry } from "./app.ts";
import { loadConfig } from "../config/load.ts";
import { recover } from "../ops/recover.ts";
import { backupDb } from "../ops/backup.ts";
import { doctor, factsText, type DoctorState } from "../ops/doctor.ts";

type Args = GlobalArgs & Record<string, any>;

/** Open the app for a command, run fn, always close the DB. */
async function withApp(args: Args, fn: (app: App) => Promise<CmdResult>, opts: OpenOptions = {}): Promise<CmdResult> {
  const app = await openApp(args, process.argv.slice(2), opts);
  app.ctx.log.debug(`config ${app.configFile}, database ${app.dbPath}, node ${app.ctx.node}`); // shown with -v
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}

// ---------- init ----------
const init = defineCommand({
  meta: { name: "init", description: "write a commented starter config and create the database (refuses to overwrite either)" },
  args: { node: { type: "string", description: "this machine's node name (default: the sanitised host name)" } },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    const file = resolveConfigPath(args.config);
    const dbPath = resolveDbPath(args.db, undefined);
    if (existsSync(file)) throw refused("config_exists", `refused: ${file} already exists; hoard init never overwrites a config`, "edit it, or pass --config to write a new one elsewhere");
    if (existsSync(dbPath) && !dbIsEmpty(dbPath)) throw refused("db_exists", `refused: database ${dbPath} already exists; hoard init never overwrites it`, "pass --db to create a new one elsewhere");
    mkdirPrivate(dirname(file));
    writeNewPrivateFile(file, starterConfig({ node: args.node ?? sanitisedHostname(), db: dbPath }));
    openDb(dbPath).close();
    const key = nodeKey(dirname(dbPath)); // the key this node signs its catalogs with
    return { data: { config: file, db: dbPath, schema_version: SCHEMA_VERSION, key: { public_key: key.publicKey, fingerprint: key.fingerprint } }, human: `wrote ${file}\ncreated ${dbPath}\nnode key ${key.fingerprint} (hoard key show)\nnext: hoard volume add NAME PATH`, status: "success" };
  },
});

// ---------- volumes ----------
const volumeAdd = defineCommand({
  meta: { name: "add", description: "declare a volume: write .hoard-volume, record its path, add it to the config (comments kept)" },
  args: {
    name: { type: "positional", description: "volume name", required: true },
    path: { type: "positional", description: "absolute path of the volume's root directory", required: true },
    relocate: { type: "boolean", description: "the volume really moved: update the recorded path" },
    syncTo: { type: "string", valueHint: "A,B", description: "destinations `hoard sync` pushes it to (default: the --require ones)" },
    require: { type: "string", valueHint: "A,B", description: "destinations that must hold verified evidence before an offload (offload_requires)" },
    exclude: { type: "string", valueHint: "PATTERN", description: "a gitignore-style pattern the index skips (repeatable; exclude = [...] in the config)" },
  },
  async run({ args, rawArgs }: { args: Args; rawArgs: string[] }): Promise<CmdResult> {
    const name: string = args.name;
    const path = resolve(args.path);
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) throw usageError("bad_volume_name", `bad volume name ${JSON.stringify(name)}`, "use lower-case letters, digits, . _ - (up to 64)");
    let st;
    try {
      st = statSync(path);
    } catch {
      throw usageError("volume_path_missing", `${path} does not exist`, "create the directory first");
    }
    if (!st.isDirectory()) throw usageError("volume_not_dir", `${path} is not a directory`);
    const file = resolveConfigPath(args.config);
    const text = readConfigText(file);
    if (text === undefined) throw configError("config_missing", `config ${file} does not exist`, "run `hoard init` first (or pass --config)");
    const flagged = await prepareVolumeAdd(file, text, name, path, args.syncTo, args.require, repeated(rawArgs, "exclude", false)); // checked before anything is written
    const opts: OpenOptions = {
      // overlapping trees are refused before anything (DB included) is created or written
      precheck: (config) => {
        const d = config.volumes[name];
        const mismatch = d !== undefined && resolve(d.path) !== path;
        const taken = Object.entries(config.volumes).some(([o, v]) => o !== name && resolve(v.path) === path);
        if (!mismatch && !taken) assertVolumeDisjoint(config, name, path); // those two are refused below (exit 3), naming the volume
      },
      mayCreateDb: (config) => noVolumeEverAdded(config, [path]),
    };
    return withApp(args, async (app) => {
      const declared = app.config.volumes[name];
      const actions: string[] = [];
      if (declared && resolve(declared.path) !== path)
        throw refused("volume_path_mismatch", `refused: volume ${name} is declared in the config with path ${declared.path}, not ${path}`, `fix volumes.${name}.path in ${file}, or use another name`);
      const marker = readMarker(path);
      if (marker === "unreadable") throw refused("volume_marker_unreadable", `refused: ${path}/.hoard-volume exists but cannot be read`, "inspect or remove it");
      if (marker && marker.volume !== name) throw refused("volume_marker_other", `refused: ${path} is already volume ${marker.volume}`, `use \`hoard volume add ${marker.volume} ${path}\``);
      for (const [other, v] of Object.entries(app.config.volumes))
        if (other !== name && resolve(v.path) === path) throw refused("volume_path_taken", `refused: ${path} is already volume ${other} in the config`);
      const row = getVolume(app.ctx.db, name);
      if (row && resolve(row.path) !== path && !args.relocate)
        throw refused("volume_path_mismatch", `refused: the database recorded volume ${name} at ${row.path}`, `if it really moved, run \`hoard volume add ${name} ${path} --relocate\``);
      if (!declared) {
        writeFileAtomic(file, flagged ?? addVolumeToConfigText(text, name, path));
        actions.push(`added [volumes.${name}] to ${file}`);
      }
      if (!marker) {
        writeMarker(path, name);
        actions.push(`wrote ${path}/.hoard-volume`);
      }
      if (!row || row.path !== path) {
        recordVolume(app.ctx.db, name, path);
        actions.push(row ? `recorded new path (was ${row.path})` : "recorded in the database");
      }
      if (!actions.length) actions.push("already added; nothing to do");
      return { data: { volume: name, path, actions }, human: actions.map((a) => `${name}: ${a}`).join("\n"), status: "success" };
    }, opts);
  },
});
const volumeList = defineCommand({
  meta: { name: "volumes", description: "list volumes: config path, recorded path, marker" },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const rows = listVolumes(app.ctx.db);
      const names = [...new Set([...Object.keys(app.config.volumes), ...rows.map((r) => r.name)])].sort();
      const data = names.map((n) => {
        const c = app.config.volumes[n];
        const r = rows.find((x) => x.name === n);
        const m = c ? readMarker(c.path) : undefined;
        return {
          name: n,
          config_path: c?.path ?? null,
          db_path: r?.path ?? null,
          marker: m === undefined ? "missing" : m === "unreadable" ? "unreadable" : m.volume === n ? "ok" : `names ${m.volume}`,
          sync_to: c?.sync_to ?? [],
          offload_requires: c?.offload_requires ?? [],
        };
      });
      return { data: { volumes: data }, human: data.length ? table(["name", "path", "recorded", "marker", "sync_to", "offload_requires"], data.map((d) => [d.name, d.config_path, d.db_path === d.config_path ? "yes" : d.db_path ?? "no", d.marker, d.sync_to.join(","), d.offload_requires.join(",")])) : "no volumes (hoard volume add NAME PATH)" };
    });
  },
});

// ---------- index ----------
const indexCmd = defineCommand({
  meta: { name: "index", description: "walk a volume and record every file's BLAKE3" },
  args: {
    volume: { type: "positional", description: "volume name", required: true },
    shallow: { type: "boolean", description: "trust size+mtime: hash only new or changed files" },
    dryRun: { type: "boolean", alias: "n", description: "report what would change; write nothing" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withApp(args, async (app) => {
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
    });
  },
});

// ---------- runs ----------
const runsList = defineCommand({
  meta: { name: "runs", description: "list runs (newest first); `runs show ID`, `runs abort ID`" },
  args: {
    volume: { type: "string", description: "only runs of this volume" },
    kind: { type: "string", description: "only runs of this kind (index, sync, verify, offload, restore, …)" },
    limit: { type: "string", description: "how many (default 20)" },
  },
  subCommands: {
    show: defineCommand({
      meta: { name: "show", description: "show one run" },
      args: { id: { type: "positional", required: true, description: "run id" } },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withReadApp(args, async (app) => {
          const r = getRun(app.ctx.db, parseId(args.id));
          if (!r) throw usageError("no_such_run", `run ${args.id} does not exist`, "list runs with `hoard runs`");
          const data = { ...r, touches: JSON.parse(r.touches), counts: r.counts ? JSON.parse(r.counts) : null, argv: r.argv ? JSON.parse(r.argv) : null };
          const human = Object.entries(data).map(([k, v]) => `${k.padEnd(12)} ${typeof v === "bigint" && k.endsWith("_at") ? when(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : v ?? "-"}`).join("\n");
          return { data, human };
        });
      },
    }),
    abort: defineCommand({
      meta: { name: "abort", description: "mark a running run aborted (its process is gone); refused while it is alive on this node; recorded with a note" },
      args: { id: { type: "positional", required: true, description: "run id" }, note: { type: "string", description: "why" }, force: { type: "boolean", description: "abort a run of another node (whose process this node cannot see)" } },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          const r = abortRun(app.ctx.db, parseId(args.id), { note: args.note ?? "aborted by hand (hoard runs abort)", node: app.ctx.node, force: !!args.force });
          return { data: { run_id: parseId(args.id), status: "aborted", forced: r.forced, node: r.node }, human: r.forced ? `run ${args.id} of node ${r.node} aborted (forced: this node could not check its process)` : `run ${args.id} aborted`, status: "success" };
        });
      },
    }),
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const limit = args.limit === undefined ? 20 : Number(args.limit);
      if (!Number.isInteger(limit) || limit <= 0) throw usageError("bad_limit", `--limit must be a positive integer`);
      const rows = listRuns(app.ctx.db, { volume: args.volume, kind: args.kind, limit });
      const data = rows.map((r) => ({ id: r.id, kind: r.kind, volume: r.volume, destination: r.destination, status: r.status, started_at: r.started_at, finished_at: r.finished_at, node: r.node, pid: r.pid, error: r.error, note: r.note }));
      return { data: { runs: data }, human: table(["id", "kind", "volume", "dest", "status", "started", "error/note"], data.map((r) => [r.id, r.kind, r.volume, r.destination, r.status, when(r.started_at), (r.error ?? r.note ?? "").slice(0, 60)])) };
    });
  },
});
const parseId = (s: string): bigint => {
  if (!/^\d+$/.test(String(s))) throw usageError("bad_id", `${JSON.stringify(s)} is not a run id`);
  return BigInt(s);
};

// ---------- db ----------
const dbCmd = defineCommand({
  meta: { name: "db", description: "database maintenance" },
  subCommands: {
    backup: defineCommand({
      meta: { name: "backup", description: "write a consistent copy of the database while it is in use (private, fsynced; never overwrites a file)" },
      args: { file: { type: "positional", required: false, description: "where (default: beside the database, DB.backup-<UTC time>)" } },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          const r = backupDb(app.ctx.db, args.file);
          return { data: { file: r.file, bytes: r.bytes }, human: `wrote ${r.file} (${bytes(r.bytes)}); keep it on another disk`, status: "success" };
        });
      },
    }),
    check: defineCommand({
      meta: { name: "check", description: "run SQLite integrity_check and foreign_key_check" },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          const problems = checkDb(app.ctx.db);
          return { data: { db: app.dbPath, ok: problems.length === 0, problems, schema_version: SCHEMA_VERSION }, human: problems.length ? problems.join("\n") : `${app.dbPath}: ok (schema ${SCHEMA_VERSION})`, status: problems.length ? "failed" : "success" };
        });
      },
    }),
  },
});

// ---------- plugins ----------
const pluginsCmd = defineCommand({
  meta: { name: "plugins", description: "list loaded plugins and what each registered" },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const data = app.ctx.registry.plugins.map((p) => ({ name: p.name, source: p.source, destination_types: p.destinations, policies: p.policies.map((x) => x.name), hooks: p.hooks, config_keys: p.configKeys }));
      return { data: { plugins: data }, human: table(["plugin", "source", "destinations", "policies", "hooks", "config keys"], data.map((p) => [p.name, p.source, p.destination_types.join(","), p.policies.join(","), p.hooks.join(","), p.config_keys.join(",")])) };
    });
  },
});

// ---------- destinations ----------
const destCmd = defineCommand({
  meta: { name: "dest", description: "destinations: add (to the config), init, reset (identity)" },
  subCommands: {
    add: destAddCmd,
    init: defineCommand({
      meta: { name: "init", description: "create the destination's identity and pin it (the only command that creates destination state)" },
      args: {
        name: { type: "positional", required: true, description: "destination name" },
        adopt: { type: "boolean", description: "pin the identity an already initialised destination shows (a lost database, an interrupted init); nothing there counts until a sync verifies it" },
      },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          requireDestination(app.ctx, args.name);
          const r = await destInit(app.ctx, args.name, { adopt: args.adopt });
          return { data: r, human: `${r.destination}: ${r.adopted ? "adopted" : "initialised"} (${r.type}, identity ${r.identity}, epoch ${r.epoch})${r.adopted ? "; run `hoard sync` to verify what it holds before offloading" : ""}`, status: "success" };
        });
      },
    }),
    adopt: defineCommand({
      meta: { name: "adopt", description: "pin an initialised destination as it is (after a lost database, an interrupted init, or to share it from a second machine); nothing there counts until a sync verifies it" },
      args: { name: { type: "positional", required: true, description: "destination name" } },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          requireDestination(app.ctx, args.name);
          const r = await destInit(app.ctx, args.name, { adopt: true });
          return { data: r, human: `${r.destination}: adopted (${r.type}, identity ${r.identity}, epoch ${r.epoch}); run \`hoard sync\` (or \`hoard recover --from ${r.destination}\` on a new database) before offloading`, status: "success" };
        });
      },
    }),
    reset: defineCommand({
      meta: { name: "reset", description: "re-pin a destination that was wiped or replaced: new epoch, its evidence zeroed (history kept)" },
      args: { name: { type: "positional", required: true, description: "destination name" }, yes: { type: "boolean", description: "really do it (without it: say what would happen)" } },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        return withApp(args, async (app) => {
          requireDestination(app.ctx, args.name);
          const r: any = await destReset(app.ctx, args.name, !!args.yes);
          return { data: r, human: r.applied ? `${args.name}: reset to identity ${r.identity}, epoch ${r.epoch}; ${r.components_zeroed} evidence components zeroed. Sync again before offloading.` : r.message, status: "success" };
        });
      },
    }),
  },
});
const destsCmd = defineCommand({
  meta: { name: "dests", description: "list destinations: type, pinned identity, epoch, init time" },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const data = destList(app.ctx);
      return { data: { destinations: data }, human: data.length ? table(["name", "type", "identity", "epoch", "initialised"], data.map((d) => [d.name, d.type, d.identity ?? "(not initialised)", d.epoch, when(d.initialized_at)])) : "no destinations in the config" };
    });
  },
});

// ---------- sync / verify ----------
/** A dry run's file list: the first 20 (with sizes, and where from), then "… N more". */
function fileList(files: { path: string; size?: number; from?: string }[], indent = "    "): string[] {
  const shown = files.slice(0, 20).map((f) => `${indent}${f.path}${f.size !== undefined ? ` (${bytes(f.size)})` : ""}${f.from ? ` from ${f.from}` : ""}`);
  return files.length > 20 ? [...shown, `${indent}… ${files.length - 20} more`] : shown;
}
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

const syncCmd = defineCommand({
  meta: { name: "sync", description: "push volumes to their destinations and record verified evidence" },
  args: {
    volume: { type: "positional", required: false, description: "volume (default: all)" },
    all: { type: "boolean", description: "every volume, said explicitly (for cron: hoard sync --all && hoard status --check)" },
    to: { type: "string", description: "only this destination" },
    dryRun: { type: "boolean", alias: "n", description: "check identities and report what would be pushed" },
    index: { type: "boolean", description: "index each volume first (without it, sync warns when the tree changed since the last index)" },
    bwlimit: { type: "string", valueHint: "RATE", description: "bandwidth limit passed to rclone destinations (rclone's syntax: 10M, 512k, off; UP:DOWN)" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
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
const verifyCmd = defineCommand({
  meta: { name: "verify", description: "re-check a destination without transferring; refreshes evidence honestly" },
  args: {
    dest: { type: "positional", required: true, description: "destination" },
    volume: { type: "positional", required: false, description: "volume (default: every volume using the destination)" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withApp(args, async (app) => {
      requireDestination(app.ctx, args.dest);
      const vols = args.volume ? [args.volume] : volumesFor(app.ctx, args.dest);
      if (!vols.length) throw usageError("nothing_to_verify", `no volume uses destination ${args.dest}`, "name a volume: hoard verify DEST VOLUME");
      const results = [];
      for (const v of vols) {
        if (!app.config.volumes[v]) throw usageError("unknown_volume", `unknown volume ${v}`);
        results.push(await checkVolume(app.ctx, "verify", v, args.dest));
      }
      const alarms = results.reduce((s, r) => s + r.alarms.length, 0);
      return { data: { results, alarms }, human: checkHuman(results), status: alarms ? "partial" : worst(results.map((r) => r.status)) };
    });
  },
});

// ---------- offload / restore ----------
const offloadCmd = defineCommand({
  meta: { name: "offload", description: "delete local copies that every required destination provably holds (PATH… or . for all)" },
  args: {
    volume: { type: "positional", required: true, description: "volume" },
    olderThan: { type: "string", description: "only files whose mtime is older than this (e.g. 30d)" },
    dryRun: { type: "boolean", alias: "n", description: "decide from the database only; delete nothing (with --confirm: also ask every required destination live, recording nothing)" },
    confirm: { type: "string", description: "depth of the live confirmation at every required destination: presence (exists with the indexed size) or content (hash compared end to end); default: each destination's offload_confirm" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withApp(args, async (app) => {
      const selectors = resolveSelectors((args._ as string[]).slice(1).map(String), app.config.volumes[args.volume]?.path);
      if (selectors.length === 0 && app.config.volumes[args.volume]?.offload_requires.length) {
        const eg = exampleSelector(liveFiles(app.ctx.db, args.volume).filter((f) => f.status === "present").map((f) => f.path));
        throw usageError("no_selector", "offload needs a selector: paths inside the volume (relative to the current directory inside it, else to its root), globs, or . for the whole volume", `e.g. \`hoard offload ${args.volume} .\`${eg !== "." ? ` or \`hoard offload ${args.volume} ${eg}\`` : ""} (add --dry-run to see first)`);
      }
      if (args.confirm !== undefined && args.confirm !== "presence" && args.confirm !== "content")
        throw usageError("bad_confirm", `--confirm ${JSON.stringify(args.confirm)}: expected presence or content`, "e.g. --confirm content");
      const r = await offload(app.ctx, args.volume, selectors, { olderThan: args.olderThan, dryRun: args.dryRun, confirm: args.confirm as "presence" | "content" | undefined });
      const c = r.counts;
      const lines = [
        `${r.dry_run ? "[dry run] " : ""}offload ${r.volume}${r.run_id !== null ? ` (run ${r.run_id})` : ""}: ${r.status}`,
        ...(r.dry_run
          ? [
              `  ${c.offloadable} of ${c.selected} selected files may be offloaded (${bytes(c.offloadable_bytes)})${r.would_offload?.length ? `; the local copies that would be deleted:` : ""}`,
              ...fileList(r.would_offload ?? []),
              ...(r.would_offload?.length ? [`  nothing is transferred: every required destination (${app.config.volumes[r.volume]!.offload_requires.join(", ")}) already holds verified evidence for them`] : []),
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
      return { data: r, human: lines.join("\n"), status: r.dry_run ? (r.counts.unconfirmed ? "partial" : "success") : r.status };
    });
  },
});
(offloadCmd as any).variadic = true;
(offloadCmd as any).variadicHint = "PATH…";

const restoreCmd = defineCommand({
  meta: { name: "restore", description: "bring offloaded files back (default: all of the volume, in place)" },
  args: {
    volume: { type: "positional", required: true, description: "volume" },
    from: { type: "string", description: "restore from this destination" },
    to: { type: "string", description: "restore into this directory instead (changes no rows)" },
    dryRun: { type: "boolean", alias: "n", description: "say what would be restored" },
    missing: { type: "boolean", description: "also restore files the index found missing (deleted locally) that a destination holds" },
    bwlimit: { type: "string", valueHint: "RATE", description: "bandwidth limit passed to rclone destinations (rclone's syntax: 10M, 512k, off; UP:DOWN)" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    const bwlimit = args.bwlimit === undefined ? undefined : checkBwlimit(String(args.bwlimit));
    return withApp(args, async (app) => {
      const selectors = resolveSelectors((args._ as string[]).slice(1).map(String), app.config.volumes[args.volume]?.path);
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
(restoreCmd as any).variadic = true;
(restoreCmd as any).variadicHint = "[PATH…]";

// ---------- recover ----------
/** Every value of a repeated `--NAME V` / `--NAME=V` option (citty keeps only the last), commas split too (unless `split` is false). */
function repeated(raw: string[], name: string, split = true): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!;
    if (t === "--") break;
    if (t === `--${name}` && i + 1 < raw.length) out.push(raw[++i]!);
    else if (t.startsWith(`--${name}=`)) out.push(t.slice(name.length + 3));
  }
  return split ? out.flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean) : out;
}
const recoverCmd = defineCommand({
  meta: { name: "recover", description: "rebuild a lost database (or a second machine's) from the signed catalogs at a destination, then verify there" },
  args: {
    from: { type: "string", required: true, description: "the destination to read catalogs from" },
    volume: { type: "string", description: "only this volume (repeatable; default: every volume using the destination)" },
    trust: { type: "string", description: "also trust catalogs signed by this key fingerprint (hoard:…; repeatable)" },
    verify: { type: "boolean", default: true, description: "verify the destination after the rebuild, so files can be restored (--no-verify: skip; run `hoard verify` yourself)" },
  },
  async run({ args, rawArgs }: { args: Args; rawArgs: string[] }): Promise<CmdResult> {
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

// ---------- status / evidence ----------
const statusCmd = defineCommand({
  meta: { name: "status", description: "files by status, per-destination coverage, evidence age, alarms, offloadable bytes" },
  args: {
    volume: { type: "positional", required: false, description: "volume (default: all)" },
    check: { type: "boolean", description: "for cron/monitoring: exit 4 when a required destination is not initialised, has stale evidence, a file whose latest check failed, or a last sync that failed, was partial or was refused, or an alarm stands; 0 otherwise" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      // volumes dropped from the config that still hold offloaded files or alarms stay monitored
      const removed = orphanedVolumes(app.ctx).filter((o) => !args.volume || o.volume === args.volume);
      const vols = args.volume ? (removed.length ? [] : [args.volume]) : Object.keys(app.config.volumes);
      const data = [];
      for (const v of vols) data.push(await volumeStatus(app.ctx, v));
      const lines: string[] = [];
      for (const s of data) {
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
      for (const o of removed) lines.push(`volume ${o.volume} (${o.path}): NOT IN THE CONFIG, ${o.offloaded.files} offloaded files (${bytes(o.offloaded.bytes)})${o.alarms ? `, ${o.alarms} open alarm${o.alarms === 1 ? "" : "s"}` : ""}: nothing monitors them\n  next: ${orphanProblem(o).hint}`);
      const alarms = data.reduce((n, s) => n + s.alarms, 0) + removed.reduce((n, o) => n + o.alarms, 0);
      const problems = [...(await protectionProblems(app.ctx, vols)), ...removed.map(orphanProblem)];
      if (args.check) lines.push(problems.length ? problems.map((p) => `PROBLEM ${p.volume}${p.destination ? ` → ${p.destination}` : ""}: ${p.message}\n  next: ${p.hint}`).join("\n") : "check: ok");
      return { data: { volumes: data, removed_volumes: removed, alarms, problems }, human: lines.join("\n") || "no volumes", status: args.check ? (problems.length ? "partial" : "success") : undefined };
    });
  },
});

const evidenceCmd = defineCommand({
  meta: { name: "evidence", description: "show the evidence vector and when each component expires; `evidence expire` records lapses, `evidence rewind` lowers one component" },
  args: { volume: { type: "positional", required: false, description: "volume (default: all)" } },
  subCommands: {
    expire: evidenceExpireCmd,
    rewind: defineCommand({
      meta: { name: "rewind", description: "lower one evidence component (guarded by --yes; recorded in history)" },
      args: {
        volume: { type: "positional", required: true, description: "volume" },
        dest: { type: "positional", required: true, description: "destination" },
        origin: { type: "string", required: true, description: "origin node" },
        to: { type: "string", required: true, description: "new (lower) origin run" },
        yes: { type: "boolean", description: "really do it" },
      },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        if (args.origin === undefined || args.to === undefined) throw usageError("missing_option", "evidence rewind needs --origin NODE and --to RUN");
        return withApp(args, async (app) => {
          const r: any = await evidenceRewind(app.ctx, args.volume, args.dest, args.origin, parseId(args.to), !!args.yes);
          if (!r.applied) throw refused("needs_yes", `refused: ${r.message}`, "add --yes to lower the evidence");
          return { data: r, human: `evidence ${r.volume}/${r.destination}/${r.origin_node}: lowered from run ${r.from} to ${r.to}`, status: "success" };
        });
      },
    }),
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const data = await evidenceReport(app.ctx, args.volume);
      return {
        data: { evidence: data },
        human: data.length ? table(["volume", "destination", "origin", "run", "method", "verified", "expires", "confirmed", "source", "epoch"], data.map((e) => [e.volume, e.destination, e.origin_node, e.origin_run, e.method || "-", e.verified_age_s === null ? "never" : `${age(e.verified_age_s)} ago`, e.stale ? (e.expires_in_s === null ? "EXPIRED" : `EXPIRED ${age(-e.expires_in_s)} ago`) : e.expires_in_s === null ? "-" : `in ${age(e.expires_in_s)}`, e.confirmed_run, e.source, `${e.epoch}${e.current_epoch ? "" : " (old)"}`])) : "no evidence yet (hoard sync)",
      };
    });
  },
});

// ---------- key ----------
const keyCmd = defineCommand({
  meta: { name: "key", description: "this node's signing key (catalogs at destinations are signed with it)" },
  subCommands: {
    show: defineCommand({
      meta: { name: "show", description: "print this node's public key and its fingerprint (creates the key if there is none yet)" },
      async run({ args }: { args: Args }): Promise<CmdResult> {
        // no database needed: the key lives in the data directory beside it
        const file = resolveConfigPath(args.config);
        const config = loadConfig(file, (await loadRegistry(file, readConfigText(file))).configExtensions());
        const dataDir = dirname(resolveDbPath(args.db, config));
        if (!existsSync(dataDir)) throw refused("no_data_dir", `refused: hoard's data directory ${dataDir} does not exist`, "run `hoard init` first (or pass --db)");
        const key = nodeKey(dataDir);
        return { data: { public_key: key.publicKey, fingerprint: key.fingerprint }, human: `public key  ${key.publicKey}\nfingerprint ${key.fingerprint}\n(another machine trusts this node's catalogs with [nodes.NAME] public_key = "…" in its config, or recover --trust ${key.fingerprint})`, status: "success" };
      },
    }),
  },
});

// ---------- doctor ----------
const DOCTOR_LABEL: Record<DoctorState, string> = { ok: "ok", not_initialised: "not initialised", adoptable: "initialised elsewhere, not pinned here", identity_changed: "IDENTITY CHANGED", wiped: "IDENTITY GONE", unreachable: "UNREACHABLE", error: "ERROR" };
const doctorCmd = defineCommand({
  meta: { name: "doctor", description: "check every destination: tool, capabilities, verification method, identity; says what to do next" },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withApp(args, async (app) => {
      const r = await doctor(app.ctx);
      const lines: string[] = [];
      for (const d of r.destinations) {
        lines.push(`${d.name} (${d.type}): ${DOCTOR_LABEL[d.state]}${d.methods ? `; methods ${d.methods.join(",") || "none"}` : ""}${d.identity ? `; identity ${d.identity}` : ""}${d.used_by.length ? `; used by ${d.used_by.join(", ")}` : ""}`);
        if (d.error) lines.push(`  error: ${d.error}`);
        if (d.identity_error) lines.push(`  error: ${d.identity_error}`);
        for (const w of d.warnings ?? []) lines.push(`  warning: ${w}`);
        if (d.facts && factsText(d.facts)) lines.push(`  ${factsText(d.facts)}`);
        if (d.next) lines.push(`  next: ${d.next}`);
      }
      if (args.json) for (const w of r.warnings) app.ctx.log.warn(w);
      else for (const w of r.warnings) lines.push(`warning: ${w}\n  next: chmod 600 the file, or use { env = "VAR" } for the secret`);
      lines.push(r.destinations.length ? (r.problems ? `doctor: ${r.problems} of ${r.destinations.length} destinations need attention` : `doctor: ${r.destinations.length} destinations checked, no problem found`) : "no destinations (hoard dest add NAME --type fs path=DIR)");
      return { data: r, human: lines.join("\n"), status: r.problems ? "failed" : "success" };
    });
  },
});

export function commandTree(version: string): Command {
  return defineCommand({
    meta: { name: "hoard", version, description: "prove a file is safe elsewhere before deleting the local copy" },
    subCommands: {
      init,
      volume: defineCommand({ meta: { name: "volume", description: "manage volumes" }, subCommands: { add: volumeAdd, rm: volumeRmCmd } }),
      ls: lsCmd,
      volumes: volumeList,
      index: indexCmd,
      sync: syncCmd,
      verify: verifyCmd,
      offload: offloadCmd,
      restore: restoreCmd,
      recover: recoverCmd,
      status: statusCmd,
      evidence: evidenceCmd,
      dest: destCmd,
      dests: destsCmd,
      runs: runsList,
      db: dbCmd,
      plugins: pluginsCmd,
      doctor: doctorCmd,
      key: keyCmd,
      ...extraCommands(),
      ...alarmCommands(),
    },
  }) as Command;
}

