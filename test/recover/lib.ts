// Worlds of the recover tests: volume `photos` → destination `d` (fs, rclone with a local-path remote,
// a local restic repository, or a kopia repository through the kopia test double), a node name of its own, optional trusted [nodes.*] keys, and a second
// machine (a fresh world with its own config, DB and node key) pointed at the same destination.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type Result, type World } from "../helpers.ts";

export type Kind = "fs" | "rclone" | "restic" | "kopia";
export const KINDS: Kind[] = ["fs", "rclone", "kopia"];

export const FILES: Record<string, string | Uint8Array> = {
  "a.txt": "alpha\n",
  "dir/b c.txt": "bravo with a space\n",
  "dir/sub/ü.bin": new Uint8Array(40_000).map((_, i) => (i * 7 + 3) & 0xff),
};

export interface RecWorld extends World {
  kind: Kind;
  node: string;
  /** The destination's directory (fs path, the rclone local-path remote, the restic or kopia repository). */
  destPath: string;
  volPath: string;
  /** [nodes.NAME] public_key entries written into the config. */
  trusted: Record<string, string>;
  writeConfig(): void;
  /** `hoard ARGS`, asserting the exit code (showing the output when it differs). */
  run(expected: number, ...args: string[]): Promise<Result>;
  /** The catalogs of volume photos at the destination (names, newest first; fs, rclone and kopia). */
  catalogs(): string[];
  /** The file whose presence says the destination is initialised (marker file, kopia's format blob). */
  markerFile(): string;
  /** The identity the destination shows (the marker's id, kopia's unique id in hex). */
  identity(): string;
  catalogPath(name: string): string;
  /** This world's node public key (hex), from its private key file. */
  publicKey(): string;
  /** Delete the DB and its -wal/-shm files (a dead disk). */
  loseDb(): void;
}

/** The restic repository's password (every restic world of a run shares it: a second machine knows it). */
export const RESTIC_PW = `restic-recover-${Math.random().toString(36).slice(2)}`;
/** The kopia repository's password (shared the same way). */
export const KOPIA_PW = `kopia-recover-${Math.random().toString(36).slice(2)}`;
const KOPIA_DOUBLE = join(ROOT, "test", "fixtures", "kopia-double");

/**
 * kopia ARGS on the world's repository, as a user with the password would run it (the kopia double,
 * with a config file of its own, not hoard's): its stdout bytes.
 */
export function kopia(w: RecWorld, args: string[]): Buffer {
  const config = w.path("kopia-user.config");
  const env = { ...process.env, PATH: `${KOPIA_DOUBLE}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, KOPIA_PASSWORD: KOPIA_PW, KOPIA_CHECK_FOR_UPDATES: "false" };
  const run = (a: string[]) => execFileSync("kopia", [...a, "--config-file", config], { env, cwd: w.dir });
  if (!existsSync(config)) run(["repository", "connect", "filesystem", "--path", w.destPath, "--no-persist-credentials"]);
  return run(args);
}

/** The catalog snapshots of volume photos kopia lists (newest name first). */
export function kopiaCatalogs(w: RecWorld): { id: string; name: string; obj: string }[] {
  const all = JSON.parse(kopia(w, ["snapshot", "list", "--all", "--json"]).toString("utf8")) as any[];
  return all
    .filter((s) => s.tags?.["tag:hoard-catalog"] === "photos")
    .map((s) => ({ id: s.id as string, name: s.rootEntry.name as string, obj: s.rootEntry.obj as string }))
    .sort((x, y) => (x.name < y.name ? 1 : x.name > y.name ? -1 : 0));
}

const made: World[] = [];
export function cleanupWorlds(): void {
  for (const w of made.splice(0)) w.cleanup();
}

/**
 * A world of kind `kind`. `destPath` defaults to <world>/dest; `files` are written to <world>/vol
 * (pass null for a second machine: the volume directory is not created).
 */
export function recWorld(kind: Kind, o: { node?: string; destPath?: string; volPath?: string; files?: Record<string, string | Uint8Array> | null } = {}): RecWorld {
  const w = world() as RecWorld;
  made.push(w);
  w.kind = kind;
  w.node = o.node ?? "alpha";
  w.destPath = o.destPath ?? w.path("dest");
  w.volPath = o.volPath ?? w.path("vol");
  w.trusted = {};
  if (kind === "rclone") w.env.RCLONE_CONFIG = w.path("rclone.conf");
  if (kind === "restic") w.env.HOARD_TEST_RESTIC_PW = RESTIC_PW;
  if (kind === "kopia") {
    w.env.HOARD_TEST_KOPIA_PW = KOPIA_PW;
    w.env.PATH = `${KOPIA_DOUBLE}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`;
  }
  if (o.files !== null) for (const [rel, c] of Object.entries(o.files ?? FILES)) w.write(`vol/${rel}`, c);
  w.writeConfig = () => {
    const dest =
      kind === "fs"
        ? `type = "fs"\npath = ${JSON.stringify(w.destPath)}`
        : kind === "rclone"
          ? `type = "rclone"\nremote = ${JSON.stringify(w.destPath)}`
          : kind === "restic"
            ? `type = "restic"\nrepository = ${JSON.stringify(w.destPath)}\npassword = { env = "HOARD_TEST_RESTIC_PW" }`
            : `type = "kopia"\nrepository = ${JSON.stringify(w.destPath)}\npassword = { env = "HOARD_TEST_KOPIA_PW" }`;
    const nodes = Object.entries(w.trusted).map(([n, k]) => `\n[nodes.${n}]\npublic_key = "${k}"\n`).join("");
    w.setConfig(`node = "${w.node}"\n\n[volumes.photos]\npath = ${JSON.stringify(w.volPath)}\nsync_to = ["d"]\noffload_requires = ["d"]\n\n[destinations.d]\n${dest}\n${nodes}`);
  };
  w.run = async (expected, ...args) => {
    const r = await w.hoardAsync(...args);
    if (r.code !== expected) throw new Error(`hoard ${args.join(" ")}: expected exit ${expected}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const catDir = () => join(w.destPath, "photos", ".hoard", "catalogs");
  w.catalogs = () =>
    kind === "kopia" ? kopiaCatalogs(w).map((c) => c.name) : existsSync(catDir()) ? readdirSync(catDir()).filter((n) => n.endsWith(".hcat")).sort().reverse() : [];
  w.markerFile = () => join(w.destPath, kind === "kopia" ? "kopia.repository.f" : ".hoard-destination");
  w.identity = () => {
    const m = JSON.parse(readFileSync(w.markerFile(), "utf8"));
    return kind === "kopia" ? Buffer.from(m.uniqueID, "base64").toString("hex") : m.id;
  };
  w.catalogPath = (name) => join(catDir(), name);
  w.publicKey = () => JSON.parse(readFileSync(join(w.dir, "data", "keys", "node.key"), "utf8")).public_key;
  w.loseDb = () => {
    for (const s of ["", "-wal", "-shm"]) rmSync(`${w.db}${s}`, { force: true });
  };
  w.writeConfig();
  return w;
}

/** A world with the volume added and the destination initialised, indexed and synced. */
export async function syncedWorld(kind: Kind, o: Parameters<typeof recWorld>[1] = {}): Promise<RecWorld> {
  const w = recWorld(kind, o);
  await w.run(0, "volume", "add", "photos", w.volPath);
  await w.run(0, "dest", "init", "d");
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  return w;
}

/** Every file under `dir` has exactly the given bytes. */
export function sameFiles(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, c] of Object.entries(files)) {
    const p = join(dir, rel);
    if (!existsSync(p)) throw new Error(`${p} does not exist`);
    if (!readFileSync(p).equals(Buffer.from(c))) throw new Error(`${p} differs from the expected bytes`);
  }
}
