// Setting up: `init`, `volume add|rm`, `volumes`, `dest add|init|adopt|reset`, `dests`, `key show`.
// Each parses its arguments, calls one workflow of src/ops, and renders the result.

import { dirname } from "node:path";
import { loadRegistry, noVolumeEverAdded, withApp, type OpenOptions } from "./app.ts";
import { appCommand, command, readCommand, repeated, restWords } from "./define.ts";
import { bytes, table, when } from "./output.ts";
import { loadConfig } from "../config/load.ts";
import { readConfigText, resolveConfigPath, resolveDbPath } from "../config/paths.ts";
import { destAdd, init, keyShow, volumeRm } from "../ops/setup.ts";
import { planVolumeAdd, volumeAdd, volumeAddPrecheck, volumeList } from "../ops/volumes.ts";
import { destInit, destList, destReset, requireDestination } from "../ops/dest-admin.ts";

const initCmd = command({
  name: "init",
  description: "write a commented starter config and create the database (refuses to overwrite either)",
  args: { node: { type: "string", description: "this machine's node name (default: the sanitised host name)" } },
  async run(args) {
    const r = init(resolveConfigPath(args.config), resolveDbPath(args.db, undefined), args.node);
    return { data: r, human: `wrote ${r.config}\ncreated ${r.db}\nnode key ${r.key.fingerprint} (hoard key show)\nnext: hoard volume add NAME PATH`, status: "success" };
  },
});

// ---------- volumes ----------
const volumeAddCmd = command({
  name: "add",
  description: "declare a volume: write .hoard-volume, record its path, add it to the config (comments kept)",
  args: {
    name: { type: "positional", description: "volume name", required: true },
    path: { type: "positional", description: "absolute path of the volume's root directory", required: true, complete: "dir" },
    relocate: { type: "boolean", description: "the volume really moved: update the recorded path" },
    syncTo: { type: "string", valueHint: "A,B", description: "destinations `hoard sync` pushes it to (default: the --require ones)" },
    require: { type: "string", valueHint: "A,B", description: "destinations that must hold verified evidence before an offload (offload_requires)" },
    exclude: { type: "string", valueHint: "PATTERN", description: "a gitignore-style pattern the index skips (repeatable; exclude = [...] in the config)" },
  },
  async run(args, rawArgs) {
    const file = resolveConfigPath(args.config);
    // checked before anything is written
    const plan = await planVolumeAdd(file, { name: args.name, path: args.path, relocate: !!args.relocate, syncTo: args.syncTo, require: args.require, exclude: repeated(rawArgs, "exclude", false) }, (text) => loadRegistry(file, text));
    const opts: OpenOptions = {
      // overlapping trees are refused before anything (DB included) is created or written
      precheck: (config) => volumeAddPrecheck(plan, config),
      mayCreateDb: (config) => noVolumeEverAdded(config, [plan.path]),
    };
    return withApp(args, async (app) => {
      const r = volumeAdd(app.ctx, plan);
      return { data: r, human: r.actions.map((a) => `${r.volume}: ${a}`).join("\n"), status: "success" };
    }, opts);
  },
});

const volumeRmCmd = appCommand({
  name: "rm",
  description: "remove a volume from the config (the database keeps its history); refused while it has offloaded files",
  args: {
    name: { type: "positional", required: true, description: "volume name" },
    forgetOffloaded: { type: "boolean", description: "remove it although it has offloaded files (their records stay; `hoard status` keeps reporting them)" },
  },
  run(app, args) {
    const r = volumeRm(app.ctx, app.configFile, app.ctx.registry, String(args.name), !!args.forgetOffloaded);
    const human = [`removed [volumes.${r.volume}] from ${r.config} (the database keeps its history)`];
    if (r.forgotten) human.push(`warning: ${r.offloaded.files} offloaded files (${bytes(r.offloaded.bytes)}) are no longer in the config; \`hoard status\` keeps reporting them`);
    if (r.alarms) human.push(`warning: ${r.alarms} open alarm${r.alarms === 1 ? "" : "s"} of ${r.volume} (\`hoard alarms\`); \`hoard status\` keeps reporting ${r.alarms === 1 ? "it" : "them"} until the volume is added back`);
    return { data: r, human: human.join("\n"), status: "success" };
  },
});

const volumesCmd = readCommand({
  name: "volumes",
  description: "list volumes: config path, recorded path, marker",
  run(app) {
    const data = volumeList(app.ctx);
    return { data: { volumes: data }, human: data.length ? table(["name", "path", "recorded", "marker", "sync_to", "offload_requires"], data.map((d) => [d.name, d.config_path, d.db_path === d.config_path ? "yes" : d.db_path ?? "no", d.marker, d.sync_to.join(","), d.offload_requires.join(",")])) : "no volumes (hoard volume add NAME PATH)" };
  },
});

// ---------- destinations ----------
const destName = { type: "positional", required: true, description: "destination name", complete: "destination" } as const;

const destAddCmd = command({
  name: "add",
  description: "declare a destination: append [destinations.NAME] with KEY=VALUE… to the config (comments kept), checked first",
  args: {
    name: destName,
    type: { type: "string", description: "destination type: fs, rclone, kopia, … (see `hoard plugins`)" },
  },
  rest: { hint: "[KEY=VALUE…]", complete: "file" },
  async run(args) {
    const file = resolveConfigPath(args.config);
    const registry = await loadRegistry(file, readConfigText(file));
    const r = destAdd(file, registry, String(args.name), args.type, restWords(args));
    return { data: r, human: `added [destinations.${r.destination}] (${r.type}) to ${r.config}\nnext: hoard dest init ${r.destination}`, status: "success" };
  },
});

const destCmd = command({
  name: "dest",
  description: "destinations: add (to the config), init, reset (identity)",
  subCommands: {
    add: destAddCmd,
    init: appCommand({
      name: "init",
      description: "create the destination's identity and pin it (the only command that creates destination state)",
      args: {
        name: destName,
        adopt: { type: "boolean", description: "pin the identity an already initialised destination shows (a lost database, an interrupted init); nothing there counts until a sync verifies it" },
      },
      async run(app, args) {
        requireDestination(app.ctx, args.name);
        const r = await destInit(app.ctx, args.name, { adopt: args.adopt });
        return { data: r, human: `${r.destination}: ${r.adopted ? "adopted" : "initialised"} (${r.type}, identity ${r.identity}, epoch ${r.epoch})${r.adopted ? "; run `hoard sync` to verify what it holds before offloading" : ""}`, status: "success" };
      },
    }),
    adopt: appCommand({
      name: "adopt",
      description: "pin an initialised destination as it is (after a lost database, an interrupted init, or to share it from a second machine); nothing there counts until a sync verifies it",
      args: { name: destName },
      async run(app, args) {
        requireDestination(app.ctx, args.name);
        const r = await destInit(app.ctx, args.name, { adopt: true });
        return { data: r, human: `${r.destination}: adopted (${r.type}, identity ${r.identity}, epoch ${r.epoch}); run \`hoard sync\` (or \`hoard recover --from ${r.destination}\` on a new database) before offloading`, status: "success" };
      },
    }),
    reset: appCommand({
      name: "reset",
      description: "re-pin a destination that was wiped or replaced: new epoch, its evidence zeroed (history kept)",
      args: { name: destName, yes: { type: "boolean", description: "really do it (without it: say what would happen)" } },
      async run(app, args) {
        requireDestination(app.ctx, args.name);
        const r: any = await destReset(app.ctx, args.name, !!args.yes);
        return { data: r, human: r.applied ? `${args.name}: reset to identity ${r.identity}, epoch ${r.epoch}; ${r.components_zeroed} evidence components zeroed. Sync again before offloading.` : r.message, status: "success" };
      },
    }),
  },
});

const destsCmd = readCommand({
  name: "dests",
  description: "list destinations: type, pinned identity, epoch, init time",
  run(app) {
    const data = destList(app.ctx);
    return { data: { destinations: data }, human: data.length ? table(["name", "type", "identity", "epoch", "initialised"], data.map((d) => [d.name, d.type, d.identity ?? "(not initialised)", d.epoch, when(d.initialized_at)])) : "no destinations in the config" };
  },
});

// ---------- key ----------
const keyCmd = command({
  name: "key",
  description: "this node's signing key (catalogs at destinations are signed with it)",
  subCommands: {
    show: command({
      name: "show",
      description: "print this node's public key and its fingerprint (creates the key if there is none yet)",
      async run(args) {
        // no database needed: the key lives in the data directory beside it
        const file = resolveConfigPath(args.config);
        const config = loadConfig(file, (await loadRegistry(file, readConfigText(file))).configExtensions());
        const key = keyShow(dirname(resolveDbPath(args.db, config)));
        return { data: key, human: `public key  ${key.public_key}\nfingerprint ${key.fingerprint}\n(another machine trusts this node's catalogs with [nodes.NAME] public_key = "…" in its config, or recover --trust ${key.fingerprint})`, status: "success" };
      },
    }),
  },
});

/** The setup commands, for the command tree. */
export const setupCommands = {
  init: initCmd,
  volume: command({ name: "volume", description: "manage volumes", subCommands: { add: volumeAddCmd, rm: volumeRmCmd } }),
  volumes: volumesCmd,
  dest: destCmd,
  dests: destsCmd,
  key: keyCmd,
};
