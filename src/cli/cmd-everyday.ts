// Everyday commands beside the core tree: `ls`, `dest add`, `volume rm`; and withReadApp, which opens
// the world for read-only commands without ever creating a config or a database.

import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { defineCommand } from "citty";
import type { CmdResult } from "./dispatch.ts";
import { loadRegistry, openApp, type App, type GlobalArgs } from "./app.ts";
import { bytes, makeLogger, makeProgress, table } from "./output.ts";
import { Db, migrate } from "../kernel/db.ts";
import { openSqlite } from "../kernel/runtime.ts";
import { readConfigText, resolveConfigPath, resolveDbPath } from "../config/load.ts";
import type { HoardConfig } from "../config/schema.ts";
import { listFiles } from "../ops/ls.ts";
import { resolveSelectors } from "../ops/select.ts";
import { destAdd, nameList, volumeAddText, volumeRm } from "../ops/setup.ts";

type Args = GlobalArgs & Record<string, any>;

/** Thrown from openApp's precheck: no DB yet and nothing that implies one. */
class NoDbYet extends Error {
  constructor(readonly config: HoardConfig, readonly dbPath: string) {
    super("no database yet");
  }
}

/**
 * Open the world for a read-only command (status, runs, evidence, dests, volumes, plugins, ls). With
 * no DB yet and no volume declared, it reads an empty in-memory one: nothing is created on disk. A
 * config declaring volumes without its DB is refused as everywhere (db_missing, exit 3).
 */
export async function withReadApp(args: Args, fn: (app: App) => Promise<CmdResult>): Promise<CmdResult> {
  let app: App;
  try {
    app = await openApp(args, process.argv.slice(2), {
      precheck: (config) => {
        const dbPath = resolveDbPath(args.db, config);
        if (!existsSync(dbPath) && Object.keys(config.volumes).length === 0) throw new NoDbYet(config, dbPath);
      },
    });
  } catch (e) {
    if (!(e instanceof NoDbYet)) throw e;
    const configFile = resolveConfigPath(args.config);
    const registry = await loadRegistry(configFile, readConfigText(configFile));
    const db = new Db(":memory:", openSqlite(":memory:"));
    migrate(db);
    app = {
      ctx: { db, config: e.config, registry, node: e.config.node, log: makeLogger(!!args.quiet), progress: makeProgress(true), argv: process.argv.slice(2), dataDir: dirname(e.dbPath) },
      config: e.config,
      configFile,
      dbPath: e.dbPath,
      close: () => db.close(),
    };
  }
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}

// ---------- ls ----------
const STATE: Record<string, string> = { dest_not_initialised: "not-initialised" };
export const lsCmd = defineCommand({
  meta: { name: "ls", description: "list files (PATH…: files, directories or globs; default all): status, size and, per destination, whether its evidence would let an offload go" },
  args: { volume: { type: "positional", required: true, description: "volume" } },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    return withReadApp(args, async (app) => {
      const raw = (args._ as string[]).slice(1).map(String);
      const r = await listFiles(app.ctx, args.volume, resolveSelectors(raw, app.config.volumes[args.volume]?.path));
      const heads = ["path", "status", "size", ...r.destinations.map((d) => `${d.name}${d.required ? "*" : ""}`)];
      const rows = r.files.map((f) => [f.path, f.status, bytes(f.size), ...f.evidence.map((e) => (e.safe ? "safe" : STATE[e.code!] ?? e.code!.replace(/_/g, "-")))]);
      const lines = [
        r.files.length ? table(heads, rows) : `no files${raw.length ? " match" : " indexed (hoard index " + r.volume + ")"}`,
        `${r.counts.files} files, ${bytes(r.counts.bytes)}: ${r.counts.present} present, ${r.counts.offloaded} offloaded, ${r.counts.missing} missing${r.destinations.some((d) => d.required) ? "  (* required by offload_requires)" : ""}`,
        ...r.unmatched.map((u) => `! ${u} matched no file`),
      ];
      return { data: r, human: lines.join("\n") };
    });
  },
});
(lsCmd as any).variadic = true;
(lsCmd as any).variadicHint = "[PATH…]";

// ---------- dest add ----------
export const destAddCmd = defineCommand({
  meta: { name: "add", description: "declare a destination: append [destinations.NAME] with KEY=VALUE… to the config (comments kept), checked first" },
  args: {
    name: { type: "positional", required: true, description: "destination name" },
    type: { type: "string", description: "destination type: fs, rclone, kopia, … (see `hoard plugins`)" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    const file = resolveConfigPath(args.config);
    const registry = await loadRegistry(file, readConfigText(file));
    const r = destAdd(file, registry, String(args.name), args.type, (args._ as string[]).slice(1).map(String));
    return { data: r, human: `added [destinations.${r.destination}] (${r.type}) to ${r.config}\nnext: hoard dest init ${r.destination}`, status: "success" };
  },
});
(destAddCmd as any).variadic = true;
(destAddCmd as any).variadicHint = "[KEY=VALUE…]";

// ---------- volume rm ----------
export const volumeRmCmd = defineCommand({
  meta: { name: "rm", description: "remove a volume from the config (the database keeps its history); refused while it has offloaded files" },
  args: {
    name: { type: "positional", required: true, description: "volume name" },
    forgetOffloaded: { type: "boolean", description: "remove it although it has offloaded files (their records stay; `hoard status` keeps reporting them)" },
  },
  async run({ args }: { args: Args }): Promise<CmdResult> {
    const app = await openApp(args, process.argv.slice(2));
    try {
      const r = volumeRm(app.ctx, app.configFile, app.ctx.registry, String(args.name), !!args.forgetOffloaded);
      const human = [`removed [volumes.${r.volume}] from ${r.config} (the database keeps its history)`];
      if (r.forgotten) human.push(`warning: ${r.offloaded.files} offloaded files (${bytes(r.offloaded.bytes)}) are no longer in the config; \`hoard status\` keeps reporting them`);
      if (r.alarms) human.push(`warning: ${r.alarms} open alarm${r.alarms === 1 ? "" : "s"} of ${r.volume} (\`hoard alarms\`); \`hoard status\` keeps reporting ${r.alarms === 1 ? "it" : "them"} until the volume is added back`);
      return { data: r, human: human.join("\n"), status: "success" };
    } finally {
      app.close();
    }
  },
});

/** `volume add … --sync-to/--require`: the config text to write (validated now, before anything is written), or undefined without flags. */
export async function prepareVolumeAdd(file: string, text: string, name: string, path: string, syncTo: string | undefined, require: string | undefined, exclude: string[] = []): Promise<string | undefined> {
  if (syncTo === undefined && require === undefined && exclude.length === 0) return undefined;
  return volumeAddText(file, text, await loadRegistry(file, text), name, path, nameList(syncTo), nameList(require), exclude);
}
