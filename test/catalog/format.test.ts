// The catalog format and the node key: encode/decode round trips (small and gzipped), altered bytes
// (bad_hash), an altered payload under a recomputed name (bad_signature), bad names and formats, the
// signer's fingerprint, and the key file: created once 0600 in a 0700 dir, reused, never replaced.

import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { ed25519 } from "@noble/curves/ed25519.js";
import { CATALOG_FORMAT, decodeCatalog, encodeCatalog, rowsDigest, signedStatement, type Catalog, type CatalogRow } from "../../src/kernel/catalog.ts";
import { fingerprintOf, nodeKey, verifySignature, type NodeKey } from "../../src/kernel/keys.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { HoardError } from "../../src/kernel/errors.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "hoard-catalog-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const hex64 = (i: number) => hashBytes(new TextEncoder().encode(`content ${i}`));
function rows(n: number): CatalogRow[] {
  const out: CatalogRow[] = [];
  for (let i = 0; i < n; i++) out.push({ path: `dir ${i % 9}/"quoted"\\ é ${i}.txt`, size: i * 17, mtimeNs: 1_700_000_000_123_456_789n + BigInt(i), blake3: hex64(i), status: i % 3 ? "present" : "offloaded" });
  return out;
}
const catalog = (r: CatalogRow[], createdAt = 1_750_000_000_000_000_001n): Catalog => ({ format: CATALOG_FORMAT, volume: "photos", node: "laptop", destination: "nas", runId: 42n, createdAt, hoardVersion: "0.1.0", rows: r });

/** Split a catalog file into its header (parsed) and its payload bytes. */
function parts(bytes: Uint8Array) {
  const b = Buffer.from(bytes);
  const nl1 = b.indexOf(10);
  const nl2 = b.indexOf(10, nl1 + 1);
  return { magic: b.subarray(0, nl1).toString(), header: JSON.parse(b.subarray(nl1 + 1, nl2).toString()), payload: b.subarray(nl2 + 1) };
}
const rename = (bytes: Uint8Array, createdAt = 1_750_000_000_000_000_001n) => `${String(createdAt).padStart(20, "0")}-${hashBytes(bytes)}.hcat`;
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HoardError);
    return (e as HoardError).code;
  }
  return undefined;
}

test("round trip: a small catalog (not compressed) and a large one (gzip) decode to the same rows, with the signer's key and fingerprint", () => {
  const key = nodeKey(tmp());
  for (const n of [0, 3, 5000]) {
    const c = catalog(rows(n));
    const { name, bytes } = encodeCatalog(c, key);
    expect(name).toMatch(/^01750000000000000001-[0-9a-f]{64}\.hcat$/);
    expect(name).toBe(rename(bytes));
    const p = parts(bytes);
    expect(p.magic).toBe("HOARDCAT1");
    expect(p.header.public_key).toBe(key.publicKey);
    expect(p.header.compression).toBe(n === 5000 ? "gzip" : "none");
    const d = decodeCatalog(name, bytes);
    expect(d.catalog).toEqual(c);
    expect(d.publicKey).toBe(key.publicKey);
    expect(d.fingerprint).toBe(key.fingerprint);
    expect(d.fingerprint).toBe(fingerprintOf(key.publicKey));
    expect(d.fingerprint).toMatch(/^hoard:[0-9a-f]{32}$/);
  }
});

test("altered bytes: bad_hash (one flipped byte anywhere, or a truncated file)", () => {
  const key = nodeKey(tmp());
  const { name, bytes } = encodeCatalog(catalog(rows(2000)), key);
  for (const at of [3, 40, bytes.length - 5]) {
    const bad = new Uint8Array(bytes);
    bad[at]! ^= 1;
    expect(codeOf(() => decodeCatalog(name, bad))).toBe("bad_hash");
  }
  expect(codeOf(() => decodeCatalog(name, bytes.subarray(0, bytes.length - 1)))).toBe("bad_hash");
  expect(codeOf(() => decodeCatalog(name, bytes))).toBeUndefined();
});

test("an altered payload under a recomputed name: bad_signature, naming the signer's fingerprint", () => {
  const key = nodeKey(tmp());
  const c = catalog(rows(10));
  const { bytes } = encodeCatalog(c, key);
  const p = parts(bytes);
  const json = JSON.parse(p.payload.toString());
  json.rows[0][3] = hex64(999); // another BLAKE3 for the first file
  const payload = Buffer.from(JSON.stringify(json));
  const forged = Buffer.concat([Buffer.from(`HOARDCAT1\n${JSON.stringify(p.header)}\n`), payload]);
  const name = rename(forged);
  let err: HoardError | undefined;
  try {
    decodeCatalog(name, forged);
  } catch (e) {
    err = e as HoardError;
  }
  expect(err?.code).toBe("bad_signature");
  expect(err?.kind).toBe("refused");
  expect(err?.message).toContain(key.fingerprint);
  expect(err?.details).toMatchObject({ name, fingerprint: key.fingerprint });
  // the same forgery with the compression flag flipped in the header is caught too
  const flipped = Buffer.concat([Buffer.from(`HOARDCAT1\n${JSON.stringify({ ...p.header, compression: "gzip" })}\n`), gzipSync(p.payload)]);
  expect(codeOf(() => decodeCatalog(rename(flipped), flipped))).toBe("bad_signature");
});

test("a payload re-signed by another key decodes, and reports that key's fingerprint (trust is the caller's decision)", () => {
  const mine = nodeKey(tmp());
  const other = nodeKey(tmp());
  expect(other.publicKey).not.toBe(mine.publicKey);
  const { name, bytes } = encodeCatalog(catalog(rows(4)), other);
  const d = decodeCatalog(name, bytes);
  expect(d.fingerprint).toBe(other.fingerprint);
  expect(d.fingerprint).not.toBe(mine.fingerprint);
  // a header claiming my key over a payload the other key signed fails the signature
  const p = parts(bytes);
  const swapped = Buffer.concat([Buffer.from(`HOARDCAT1\n${JSON.stringify({ ...p.header, public_key: mine.publicKey })}\n`), p.payload]);
  expect(codeOf(() => decodeCatalog(rename(swapped), swapped))).toBe("bad_signature");
});

test("bad names and formats are refused with their own codes", () => {
  const key = nodeKey(tmp());
  const { name, bytes } = encodeCatalog(catalog(rows(2)), key);
  expect(codeOf(() => decodeCatalog("catalog.hcat", bytes))).toBe("bad_name");
  expect(codeOf(() => decodeCatalog(name.replace(".hcat", ".json"), bytes))).toBe("bad_name");
  // the right hash under another time: the name's time is not the catalog's own
  expect(codeOf(() => decodeCatalog(rename(bytes, 1_750_000_000_000_000_002n), bytes))).toBe("bad_name");
  // not a catalog at all, named by its hash
  const junk = Buffer.from("hello\nworld\n");
  expect(codeOf(() => decodeCatalog(rename(junk), junk))).toBe("bad_format");
  // a signed catalog with an unsafe path is refused as a format error (signed by a real key)
  const evil = encodeCatalog(catalog([{ path: "../../etc/passwd", size: 1, mtimeNs: 1n, blake3: hex64(1), status: "present" }]), key);
  expect(codeOf(() => decodeCatalog(evil.name, evil.bytes))).toBe("bad_format");
  const dup = encodeCatalog(catalog([...rows(1), ...rows(1)]), key);
  expect(codeOf(() => decodeCatalog(dup.name, dup.bytes))).toBe("bad_format");
});

test("the signature is ed25519 by the node key over the payload's signed statement (verifiable with @noble/curves alone)", () => {
  const key = nodeKey(tmp());
  const { bytes } = encodeCatalog(catalog(rows(3000)), key);
  const p = parts(bytes);
  const sig = Buffer.from(p.header.signature, "hex");
  const stmt = signedStatement(p.payload, "gzip");
  expect(new TextDecoder().decode(stmt)).toBe(`${CATALOG_FORMAT} signature\ncompression=gzip\nblake3=${hashBytes(p.payload)}`);
  expect(ed25519.verify(sig, stmt, Buffer.from(key.publicKey, "hex"))).toBe(true);
  expect(verifySignature(key.publicKey, sig, stmt)).toBe(true);
  expect(verifySignature(key.publicKey, sig, signedStatement(p.payload, "none"))).toBe(false);
  expect(verifySignature("zz", sig, stmt)).toBe(false);
  // the gzipped payload is the JSON
  expect(JSON.parse(gunzipSync(p.payload).toString()).rows.length).toBe(3000);
});

test("node key: created 0600 in a 0700 dir, the same key on every later use (another process too), never replaced", () => {
  const data = join(tmp(), "data");
  const k1 = nodeKey(data);
  const file = join(data, "keys", "node.key");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(data, "keys")).mode & 0o777).toBe(0o700);
  expect(statSync(data).mode & 0o777).toBe(0o700);
  const before = readFileSync(file, "utf8");
  // a fresh process reads the same key
  const r = Bun.spawnSync([process.execPath, "-e", `import { nodeKey } from ${JSON.stringify(join(import.meta.dir, "../../src/kernel/keys.ts"))}; console.log(nodeKey(${JSON.stringify(data)}).publicKey)`]);
  expect(r.stdout.toString().trim()).toBe(k1.publicKey);
  expect(readFileSync(file, "utf8")).toBe(before);
  const sig = k1.sign(new Uint8Array([1, 2, 3]));
  expect(verifySignature(k1.publicKey, sig, new Uint8Array([1, 2, 3]))).toBe(true);
});

test("node key: one readable by others, or damaged, is refused (never silently replaced)", () => {
  for (const damage of ["mode", "junk"] as const) {
    const data = tmp();
    const first = Bun.spawnSync([process.execPath, "-e", `import { nodeKey } from ${JSON.stringify(join(import.meta.dir, "../../src/kernel/keys.ts"))}; console.log(nodeKey(${JSON.stringify(data)}).publicKey)`]);
    expect(first.exitCode).toBe(0);
    const file = join(data, "keys", "node.key");
    if (damage === "mode") chmodSync(file, 0o644);
    else writeFileSync(file, "not a key");
    let err: HoardError | undefined;
    try {
      nodeKey(data);
    } catch (e) {
      err = e as HoardError;
    }
    expect(err?.code).toBe(damage === "mode" ? "key_not_private" : "key_invalid");
    expect(err?.hint).toBeTruthy();
    if (damage === "junk") expect(readFileSync(file, "utf8")).toBe("not a key");
  }
});

test("a NodeKey from another source (the interface) signs catalogs the same way", () => {
  const { secretKey, publicKey } = ed25519.keygen();
  const pub = Buffer.from(publicKey).toString("hex");
  const key: NodeKey = { publicKey: pub, fingerprint: fingerprintOf(pub), sign: (m) => ed25519.sign(m, secretKey) };
  const { name, bytes } = encodeCatalog(catalog(rows(1)), key);
  expect(decodeCatalog(name, bytes).publicKey).toBe(pub);
});

test("rowsDigest (how the kernel tells unchanged rows): equal rows give equal digests; any field, the order, or the prefix changes it; huge paths are fine", () => {
  const base = rows(3000);
  const d = rowsDigest(base, "p");
  expect(rowsDigest(rows(3000), "p")).toBe(d);
  expect(rowsDigest(base, "q")).not.toBe(d);
  const variants: ((r: CatalogRow) => CatalogRow)[] = [
    (r) => ({ ...r, path: r.path + "x" }),
    (r) => ({ ...r, size: r.size + 1 }),
    (r) => ({ ...r, mtimeNs: r.mtimeNs + 1n }),
    (r) => ({ ...r, blake3: hex64(12345) }),
    (r) => ({ ...r, status: r.status === "present" ? "offloaded" : "present" }),
  ];
  for (const f of variants) {
    const changed = base.slice();
    changed[1234] = f(changed[1234]!);
    expect(rowsDigest(changed, "p")).not.toBe(d);
  }
  expect(rowsDigest([base[1]!, base[0]!], "p")).not.toBe(rowsDigest([base[0]!, base[1]!], "p"));
  expect(rowsDigest(base.slice(0, -1), "p")).not.toBe(d);
  // a path split differently between two rows is another set of rows
  const a = [{ ...base[0]!, path: "ab" }, { ...base[1]!, path: "c" }];
  const b = [{ ...base[0]!, path: "a" }, { ...base[1]!, path: "bc" }];
  expect(rowsDigest(a)).not.toBe(rowsDigest(b));
  const huge = "é".repeat(600_000);
  const h1 = rowsDigest([...base.slice(0, 5), { ...base[5]!, path: huge }, ...base.slice(6, 10)]);
  const h2 = rowsDigest([...base.slice(0, 5), { ...base[5]!, path: huge + "x" }, ...base.slice(6, 10)]);
  expect(h1).not.toBe(h2);
  expect(rowsDigest([...base.slice(0, 5), { ...base[5]!, path: huge }, ...base.slice(6, 10)])).toBe(h1);
});
