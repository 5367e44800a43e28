// Served rclone remotes for the destination contract suite: one `rclone serve webdav|sftp` per test
// file (started once, however many tests ask at once; stopped by stopServed) and crypt remotes, env only.

import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/rclone/index.ts";
import { cleanup as cleanupServerDirs, freePort, obscure, serve, REAL_RCLONE, type Server } from "../rclone/harness.ts";
import { argvWrapper, cleanup, filesUnder, openType, tmp, typeOf, type Target } from "./harness.ts";

const type = typeOf(plugin, "rclone");
export type Verify = "hash" | "download";

/** A served remote: the server, the env that defines remote `name` for it, and its secret (obscured, as configured). */
interface Served {
  server: Server;
  env: Record<string, string>;
  secret: string;
}
let started: Promise<Served> | undefined;
let running: Served | undefined;

/** The file's one server of `kind`: the first caller starts it, every other caller waits for the same one. */
function served(kind: "webdav" | "sftp"): Promise<Served> {
  started ??= (async () => {
    if (kind === "sftp") {
      // no directory cache on the server: it keeps each file's hash while size and mtime stay the same, so
      // bytes changed behind its back (as the suite's corruption does) would still show the old hash
      const pass = "sftp-Pa55word-" + Math.random().toString(36).slice(2);
      const server = await serve("sftp", { RCLONE_USER: "hoard", RCLONE_PASS: pass, RCLONE_DIR_CACHE_TIME: "0s" });
      const secret = obscure(pass);
      const env = { RCLONE_CONFIG_SFTPD_TYPE: "sftp", RCLONE_CONFIG_SFTPD_HOST: "127.0.0.1", RCLONE_CONFIG_SFTPD_PORT: String(server.port), RCLONE_CONFIG_SFTPD_USER: "hoard", RCLONE_CONFIG_SFTPD_PASS: secret };
      return (running = { server, env, secret });
    }
    const pass = "dav-Pa55word-" + Math.random().toString(36).slice(2);
    const server = await serve("webdav", { RCLONE_USER: "hoard", RCLONE_PASS: pass });
    const secret = obscure(pass);
    const env = { ...davEnv(server.port, "DAV"), RCLONE_CONFIG_DAV_USER: "hoard", RCLONE_CONFIG_DAV_PASS: secret };
    return (running = { server, env, secret });
  })();
  return started;
}

const davEnv = (port: number, name: string) => ({ [`RCLONE_CONFIG_${name}_TYPE`]: "webdav", [`RCLONE_CONFIG_${name}_URL`]: `http://127.0.0.1:${port}/` });
/** Fail fast against a place nobody answers (rclone retries connection errors otherwise). */
const NO_RETRIES = { RCLONE_LOW_LEVEL_RETRIES: "1", RCLONE_RETRIES: "1" };

/** Stop the file's server and remove every temp dir (call from afterAll). */
export function stopServed(): void {
  running?.server.stop();
  running = undefined;
  started = undefined;
  cleanupServerDirs();
  cleanup();
}

let next = 0;

/**
 * A contract target on the file's served remote (`dav:` for webdav, `sftpd:` for sftp): each call gets
 * its own directory on the one server; unreachable = the same kind of remote on a port nobody serves.
 */
export async function servedTarget(kind: "webdav" | "sftp", verify: Verify): Promise<Target> {
  const s = await served(kind);
  const sub = `c${next++}`;
  const root = join(s.server.dir, sub);
  mkdirSync(root);
  const dir = tmp("hoard-contract-served-");
  const w = argvWrapper(dir, REAL_RCLONE);
  const base = { RCLONE_CONFIG: join(dir, "rclone.conf"), RCLONE_CACHE_DIR: join(dir, "cache") };
  const open = (remote: string, env: Record<string, string>) => openType(type, { remote, verify, binary: w.bin }, join(dir, "state"), { ...base, ...env });
  const prefix = kind === "sftp" ? "sftpd" : "dav";
  const closed = await freePort(); // nothing listens there
  const unreachableEnv = { ...s.env, ...NO_RETRIES, ...(kind === "sftp" ? { RCLONE_CONFIG_SFTPD_PORT: String(closed) } : davEnv(closed, "DAV")) };
  return {
    handler: () => open(`${prefix}:${sub}`, s.env),
    unreachable: () => open(`${prefix}:${sub}`, unreachableEnv),
    // through the server: behind its back its directory cache still lists the old files (and reading them fails)
    wipe() {
      const env = { ...process.env, ...base, ...s.env };
      execFileSync(REAL_RCLONE, ["purge", `${prefix}:${sub}`], { env, stdio: "pipe" });
      execFileSync(REAL_RCLONE, ["mkdir", `${prefix}:${sub}`], { env, stdio: "pipe" });
    },
    dataFiles: () => filesUnder(root, (n, rel) => rel === ".hoard-destination" || n === ".hoard"),
    secret: s.secret,
    argv: w.argv,
  };
}

/**
 * A contract target on a crypt remote over a local directory, defined by env only (RCLONE_CONFIG_VAULT_*,
 * the password obscured). Names are encrypted at the base, so the marker and state names are found by
 * `rclone cryptdecode --reverse`.
 */
export function cryptTarget(verify: Verify): Target {
  const dir = tmp("hoard-contract-crypt-");
  const root = join(dir, "base");
  mkdirSync(root);
  writeFileSync(join(dir, "file"), "");
  const w = argvWrapper(dir, REAL_RCLONE);
  const secret = obscure("crypt-pw-" + Math.random().toString(36).slice(2));
  const env = (remote: string) => ({ RCLONE_CONFIG: join(dir, "rclone.conf"), RCLONE_CONFIG_VAULT_TYPE: "crypt", RCLONE_CONFIG_VAULT_REMOTE: remote, RCLONE_CONFIG_VAULT_PASSWORD: secret });
  const open = (remote: string) => openType(type, { remote: "vault:", verify, binary: w.bin }, join(dir, "state"), env(remote));
  const enc = new Map(
    execFileSync(REAL_RCLONE, ["cryptdecode", "--reverse", "vault:", ".hoard-destination", ".hoard"], { env: { ...process.env, ...env(root) } })
      .toString()
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+\t\s+/) as [string, string]),
  );
  const marker = enc.get(".hoard-destination");
  const state = enc.get(".hoard");
  if (!marker || !state) throw new Error("rclone cryptdecode --reverse gave no encrypted names");
  return {
    handler: () => open(root),
    unreachable: () => open(join(dir, "file", "base")),
    wipe() {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
    },
    dataFiles: () => filesUnder(root, (n, rel) => rel === marker || n === state),
    secret,
    argv: w.argv,
  };
}
