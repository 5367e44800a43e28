// One world per destination kind (fs, rclone local path, rclone `serve webdav` read back by download,
// kopia via its double or KOPIA_BIN) and the damage each kind can take behind hoard's back.

import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { world, ROOT, type Result, type World } from "../helpers.ts";
import { freePort, REAL_RCLONE } from "../rclone/harness.ts";
import { DOUBLE_DIR, PW } from "../kopia/harness.ts";
import { flipBit } from "./lib.ts";

export type Kind = "fs" | "rclone-local" | "rclone-webdav" | "kopia";
export const KINDS: Kind[] = ["fs", "rclone-local", "rclone-webdav", "kopia"];

/** Synced first; a space and non-ASCII letters in names; one binary file. */
export const BASE: Record<string, string | Uint8Array> = {
  "a.txt": "alpha\n",
  "dir/b c.txt": "bravo with a space\n",
  "dir/sub/ü.bin": new Uint8Array(40_000).map((_, i) => (i * 7 + 3) & 0xff),
};
/** Synced on its own afterwards (kopia then holds its bytes in blobs of their own): the one damaged. */
export const VICTIM = "fotos 2024/été à la plage.txt";
export const VICTIM_BYTES = "the file that is damaged at the destination: été\n";
export const ALL: Record<string, string | Uint8Array> = { ...BASE, [VICTIM]: VICTIM_BYTES };

export interface KindWorld {
  kind: Kind;
  w: World;
  /** The destination's name in the config (offload_requires = [dest]). */
  dest: string;
  /** `hoard ARGS`; asserts the exit code, showing the output when it differs. */
  run(expected: number, ...args: string[]): Promise<Result>;
  /** Rewrite the config; trusted adds `trusted = true` to the destination's table. */
  writeConfig(o?: { trusted?: boolean }): void;
  /** Where the destination keeps a file's object as a plain file (undefined: kopia, no plain objects). */
  objectPath(rel: string): string | undefined;
  /** Delete the victim's object at the destination. */
  loseVictim(): void;
  /** Flip a bit of the victim's object at the destination, keeping its size and mtime. */
  corruptVictim(): void;
  unreachable(): Promise<void>;
  reachable(): Promise<void>;
}

const servers: ChildProcess[] = [];
const made: World[] = [];
/** Stop every server started here (by pid) and remove every world (call from afterAll). */
export function cleanupKinds(): void {
  for (const p of servers.splice(0)) if (p.exitCode === null && p.signalCode === null && p.pid) p.kill("SIGTERM");
  for (const w of made.splice(0)) w.cleanup();
}

async function listening(port: number, proc: ChildProcess, err: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`rclone serve exited early: ${err()}`);
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => (c.destroy(), res(true)));
      c.once("error", () => res(false));
    });
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`rclone serve did not listen on ${port}: ${err()}`);
}

/**
 * `rclone serve webdav` of an existing directory on a free port of 127.0.0.1. dirCache: its
 * --dir-cache-time (rclone's default, 5m, keeps listing files deleted behind the server's back).
 */
async function serveWebdav(w: World, dir: string, dirCache?: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const home = w.path("srvhome");
  mkdirSync(home, { recursive: true });
  const proc = spawn(REAL_RCLONE, ["serve", "webdav", "--addr", `127.0.0.1:${port}`, ...(dirCache ? ["--dir-cache-time", dirCache] : []), dir], {
    env: { ...process.env, RCLONE_CONFIG: join(home, "rclone.conf"), RCLONE_CACHE_DIR: join(home, "cache"), HOME: home },
    stdio: ["ignore", "ignore", "pipe"],
  });
  servers.push(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  await listening(port, proc, () => err);
  return { port, proc };
}

/** Every file under dir (recursively). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile());
}

/** Flip one bit in the middle of a file keeping its size and mtime (kopia: inside the ciphertext). */
const flipMiddle = (p: string) => flipBit(p, Math.floor(statSync(p).size / 2));

/**
 * A world with volume `photos` (BASE written, `volume add` and `dest init` done) and one destination
 * of the given kind that offload requires. Then: index + sync of BASE, VICTIM written, index + sync.
 */
export async function kindWorld(kind: Kind, o: { davDirCache?: string } = {}): Promise<KindWorld> {
  const isKopia = kind === "kopia";
  const w = world(isKopia ? { env: { HOARD_TEST_KOPIA_PW: PW, PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}` } } : {});
  made.push(w);
  const vol = w.path("vol");
  mkdirSync(vol, { recursive: true });
  for (const [rel, c] of Object.entries(BASE)) w.write(`vol/${rel}`, c);
  const dest = { fs: "nas", "rclone-local": "r", "rclone-webdav": "dav", kopia: "k" }[kind];

  let table: () => string[];
  let objectPath: (rel: string) => string | undefined = () => undefined;
  let unreachable: () => Promise<void>;
  let reachable: () => Promise<void>;
  /** kopia: the data blobs the victim's sync added. */
  let victimBlobs: string[] = [];
  const away = (p: string) => ({
    unreachable: async () => renameSync(p, `${p}.away`),
    reachable: async () => renameSync(`${p}.away`, p),
  });

  if (kind === "fs") {
    const root = w.path("nas");
    table = () => [`type = "fs"`, `path = ${JSON.stringify(root)}`];
    objectPath = (rel) => join(root, "photos", rel);
    ({ unreachable, reachable } = away(root));
  } else if (kind === "rclone-local") {
    const root = w.path("remote");
    w.env.RCLONE_CONFIG = w.path("rclone.conf");
    table = () => [`type = "rclone"`, `remote = ${JSON.stringify(root)}`];
    objectPath = (rel) => join(root, "photos", rel);
    ({ unreachable, reachable } = away(root));
  } else if (kind === "rclone-webdav") {
    const served = w.path("served");
    mkdirSync(served, { recursive: true });
    let srv = await serveWebdav(w, served, o.davDirCache);
    const point = (port: number) => Object.assign(w.env, { RCLONE_CONFIG_DAVSRV_TYPE: "webdav", RCLONE_CONFIG_DAVSRV_URL: `http://127.0.0.1:${port}/` });
    Object.assign(w.env, { RCLONE_CONFIG: w.path("rclone.conf"), RCLONE_LOW_LEVEL_RETRIES: "1", RCLONE_RETRIES: "1" });
    point(srv.port);
    table = () => [`type = "rclone"`, `remote = "davsrv:store"`, `verify = "download"`];
    objectPath = (rel) => join(served, "store", "photos", rel);
    unreachable = async () => {
      srv.proc.kill("SIGTERM");
      await new Promise((r) => (srv.proc.exitCode !== null || srv.proc.signalCode !== null ? r(null) : srv.proc.once("exit", r)));
    };
    reachable = async () => {
      srv = await serveWebdav(w, served, o.davDirCache);
      point(srv.port);
    };
  } else {
    const repo = w.path("repo");
    table = () => [`type = "kopia"`, `repository = ${JSON.stringify(repo)}`, `password = { env = "HOARD_TEST_KOPIA_PW" }`, `verify_files_percent = 100`];
    ({ unreachable, reachable } = away(repo));
  }

  let trusted = false;
  const kw: KindWorld = {
    kind,
    w,
    dest,
    async run(expected, ...args) {
      const r = await w.hoardAsync(...args);
      if (r.code !== expected) throw new Error(`[${kind}] hoard ${args.join(" ")}: expected exit ${expected}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      return r;
    },
    writeConfig(o = {}) {
      trusted = o.trusted ?? trusted;
      const lines = [...table(), ...(trusted ? ["trusted = true"] : [])];
      w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(vol)}\nsync_to = ["${dest}"]\noffload_requires = ["${dest}"]\n\n[destinations.${dest}]\n${lines.join("\n")}\n`);
    },
    objectPath,
    loseVictim() {
      const p = objectPath(VICTIM);
      if (p) return rmSync(p);
      if (victimBlobs.length === 0) throw new Error("no kopia blob of the victim to lose");
      for (const b of victimBlobs) rmSync(b);
    },
    corruptVictim() {
      const p = objectPath(VICTIM);
      if (p) return flipBit(p);
      if (victimBlobs.length === 0) throw new Error("no kopia blob of the victim to corrupt");
      for (const b of victimBlobs) flipMiddle(b);
    },
    unreachable: () => unreachable(),
    reachable: () => reachable(),
  };
  kw.writeConfig();
  await kw.run(0, "volume", "add", "photos", vol);
  await kw.run(0, "dest", "init", dest);
  await kw.run(0, "index", "photos");
  await kw.run(0, "sync", "photos");
  const blobsBefore = new Set(isKopia ? filesUnder(join(w.path("repo"), "p")) : []);
  w.write(`vol/${VICTIM}`, VICTIM_BYTES);
  await kw.run(0, "index", "photos");
  await kw.run(0, "sync", "photos");
  if (isKopia) {
    // the victim's bytes went into data blobs of their own (kopia: the pack of this snapshot)
    victimBlobs = filesUnder(join(w.path("repo"), "p")).filter((b) => !blobsBefore.has(b));
    if (victimBlobs.length === 0) throw new Error("the victim's sync added no kopia data blob");
    // the double keeps raw bytes: exactly one new blob is the victim's (the sync's catalog snapshot
    // adds another, which the tests must leave alone)
    if (!process.env.KOPIA_BIN) {
      const all = victimBlobs;
      victimBlobs = all.filter((b) => readFileSync(b, "utf8") === VICTIM_BYTES);
      if (victimBlobs.length !== 1) throw new Error(`unexpected kopia double blobs for the victim: ${all.join(", ")}`);
    }
  } else if (!readFileSync(objectPath(VICTIM)!).equals(Buffer.from(VICTIM_BYTES))) throw new Error(`[${kind}] the victim's object is not at ${objectPath(VICTIM)}`);
  return kw;
}

/** Every given file is in the volume, byte for byte. */
export function volumeHolds(kw: KindWorld, files: Record<string, string | Uint8Array>): void {
  for (const [rel, c] of Object.entries(files)) {
    const p = kw.w.path(`vol/${rel}`);
    if (!existsSync(p)) throw new Error(`[${kw.kind}] ${rel} is not in the volume`);
    if (!readFileSync(p).equals(Buffer.from(c))) throw new Error(`[${kw.kind}] ${rel} in the volume differs from its original bytes`);
  }
}
