// This node's ed25519 signing key (catalogs are signed with it): created once, private (0600 in a
// 0700 directory under the data dir), never replaced; fingerprints and signature checks of public keys.

import { chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { mkdirPrivate, PRIVATE_DIR } from "./db.ts";
import { failure } from "./errors.ts";
import { hashBytes } from "./hash.ts";

export interface NodeKey {
  publicKey: string; // hex, 32 bytes
  fingerprint: string;
  sign(msg: Uint8Array): Uint8Array;
}

/** Where the key lives below the data dir. */
export const KEY_DIR = "keys";
export const KEY_FILE = "node.key";
const HEX32 = /^[0-9a-f]{64}$/;

interface KeyFile {
  type: "ed25519";
  secret_key: string;
  public_key: string;
  created_at: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

/** "hoard:" + the first 32 hex digits of BLAKE3(public key bytes). */
export function fingerprintOf(publicKeyHex: string): string {
  const k = publicKeyHex.toLowerCase();
  if (!HEX32.test(k)) throw failure("bad_public_key", `not an ed25519 public key (64 hex digits): ${JSON.stringify(publicKeyHex.slice(0, 80))}`, "copy the public key exactly as `hoard key show` prints it");
  return `hoard:${hashBytes(unhex(k)).slice(0, 32)}`;
}

/** Whether `sig` is a valid ed25519 signature of `msg` by `publicKeyHex` (RFC 8032 strict); never throws. */
export function verifySignature(publicKeyHex: string, sig: Uint8Array, msg: Uint8Array): boolean {
  try {
    if (!HEX32.test(publicKeyHex.toLowerCase()) || sig.length !== 64) return false;
    return ed25519.verify(sig, msg, unhex(publicKeyHex.toLowerCase()), { zip215: false });
  } catch {
    return false;
  }
}

const cache = new Map<string, NodeKey>();

/**
 * The node's ed25519 key in the private data dir (`<dataDir>/keys/node.key`, 0600, dir 0700):
 * created on first use (and by `hoard init`). An existing key is never replaced; one readable by
 * others, or unreadable, is refused (a catalog signed with it could not be trusted).
 */
export function nodeKey(dataDir: string): NodeKey {
  const dir = join(dataDir, KEY_DIR);
  const hit = cache.get(dir);
  if (hit) return hit;
  mkdirPrivate(dir);
  const dst = lstatSync(dir);
  if (!dst.isDirectory()) throw failure("key_dir_invalid", `${dir} is not a directory`, "move it away; hoard creates its key directory itself");
  if ((dst.mode & 0o077) !== 0) chmodSync(dir, PRIVATE_DIR); // hoard's own directory: made private again
  const path = join(dir, KEY_FILE);
  let file = readKey(path);
  if (!file) file = createKey(dir, path);
  const secret = unhex(file.secret_key);
  const key: NodeKey = {
    publicKey: file.public_key,
    fingerprint: fingerprintOf(file.public_key),
    sign: (msg) => ed25519.sign(msg, secret),
  };
  cache.set(dir, key);
  return key;
}

/** The key file's contents, or undefined when there is none. */
function readKey(path: string): KeyFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (e: any) {
    if (e?.code === "ENOENT") return undefined;
    throw failure("key_unreadable", `cannot read this node's key ${path}: ${e?.code ?? e?.message}`, `it must be a regular file owned by you, mode 0600; if it is lost, move it away and a new key is made (catalogs signed with the old one then need --trust)`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 4096) throw failure("key_invalid", `this node's key ${path} is not a small regular file`, "move it away; a new key is created on the next use");
    if ((st.mode & 0o077) !== 0)
      throw failure("key_not_private", `this node's key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `run \`chmod 600 ${path}\` (anyone who read it can sign catalogs as this node: consider moving it away to make a new key)`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
    }
    let j: Partial<KeyFile>;
    try {
      j = JSON.parse(buf.subarray(0, n).toString("utf8"));
    } catch {
      throw failure("key_invalid", `this node's key ${path} is not valid JSON`, "move it away; a new key is created on the next use (catalogs signed with the old key then need --trust)");
    }
    if (j?.type !== "ed25519" || typeof j.secret_key !== "string" || !HEX32.test(j.secret_key) || typeof j.public_key !== "string" || !HEX32.test(j.public_key))
      throw failure("key_invalid", `this node's key ${path} is not an ed25519 key file`, "move it away; a new key is created on the next use");
    if (hex(ed25519.getPublicKey(unhex(j.secret_key))) !== j.public_key) throw failure("key_invalid", `this node's key ${path} is inconsistent (its public key is not the secret key's)`, "move it away; a new key is created on the next use");
    return j as KeyFile;
  } finally {
    closeSync(fd);
  }
}

/** Write a new key: a private temp file, fsynced, then linked to the final name (never replacing one). */
function createKey(dir: string, path: string): KeyFile {
  const { secretKey, publicKey } = ed25519.keygen();
  const file: KeyFile = { type: "ed25519", secret_key: hex(secretKey), public_key: hex(publicKey), created_at: new Date().toISOString() };
  const tmp = join(dir, `.${KEY_FILE}.tmp-${randomUUID()}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, JSON.stringify(file) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (e: any) {
    if (e?.code !== "EEXIST") throw failure("key_create", `cannot create this node's key ${path}: ${e?.code ?? e?.message}`, "check the data directory's permissions");
    // another hoard created it meanwhile: use that one
  } finally {
    unlinkSync(tmp);
  }
  const dfd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  const back = readKey(path);
  if (!back) throw failure("key_create", `created this node's key ${path} but cannot read it back`);
  return back;
}
