// Tests for src/kernel/hash.ts, the hash pool and the BLAKE3 backends of the runtime adapter:
// official vectors, native vs reference agreement, file edge sizes, change detection, workers.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import vectors from "./fixtures/blake3-vectors.json";
import { blake3Backend, nativeBlake3, referenceBlake3, type Blake3Backend } from "../src/kernel/runtime.ts";
import { hashBytes, hashFile, hashFileFromHandle, hashFileWithDigests, streamHasher } from "../src/kernel/hash.ts";
import { createHashPool, type HashPool } from "../src/kernel/hashpool.ts";

const vectorInput = (n: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
};

const native = nativeBlake3();
const noble = referenceBlake3();

function digestWith(be: Blake3Backend, data: Uint8Array, pieces = 1): string {
  const h = be.create();
  const step = Math.max(1, Math.ceil(data.length / pieces));
  for (let i = 0; i < data.length; i += step) h.update(data.subarray(i, i + step));
  return h.digestHex();
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hoard-hash-test-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("BLAKE3 official test vectors", () => {
  test("native backend is available here", () => {
    expect(native).toBeDefined();
    expect(blake3Backend().name).toBe(process.env.HOARD_BLAKE3 === "noble" ? "noble" : "native");
  });
  test("fixture holds all 22 vectors", () => expect(vectors.cases.length).toBe(22));
  for (const { input_len, hash } of vectors.cases) {
    test(`len ${input_len}`, () => {
      const data = vectorInput(input_len);
      for (const be of [native!, noble]) {
        expect(digestWith(be, data)).toBe(hash);
        expect(digestWith(be, data, 7)).toBe(hash); // incremental, odd split points
        expect(be.hashHex?.(data) ?? hash).toBe(hash);
      }
      expect(hashBytes(data)).toBe(hash);
      const s = streamHasher();
      for (let i = 0; i < data.length; i += 1000) s.update(data.subarray(i, i + 1000));
      expect(s.digestHex()).toBe(hash);
      expect(s.bytes).toBe(input_len);
    });
  }
});

describe("native agrees with the reference (noble) on random data", () => {
  const agree = (data: Uint8Array, pieces: number) => {
    const expected = noble.hashHex!(data);
    expect(digestWith(native!, data, pieces)).toBe(expected);
    expect(native!.hashHex!(data)).toBe(expected);
    expect(hashBytes(data)).toBe(expected);
  };
  test("property: small inputs (shrinkable bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 9 }), agree),
      { numRuns: 200 },
    );
  });
  test("property: large inputs (seeded bytes, any length up to 300 KB)", () => {
    // Element-wise generation of 100k-byte arrays is slow; fill from a seeded xorshift instead.
    const bytes = (n: number, seed: number) => {
      const b = new Uint8Array(n);
      let x = seed | 1;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = x & 0xff;
      }
      return b;
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300_000 }), fc.integer(), fc.integer({ min: 1, max: 9 }), (n, seed, pieces) => agree(bytes(n, seed), pieces)),
      { numRuns: 100 },
    );
  }, 180_000);
  test("subarray views with a non-zero byteOffset", () => {
    const big = randomBytes(10_000);
    const view = new Uint8Array(big.buffer, big.byteOffset + 13, 5_000);
    expect(digestWith(native!, view, 3)).toBe(noble.hashHex!(view));
    expect(hashBytes(view)).toBe(noble.hashHex!(view));
  });
});

describe("hashFile", () => {
  const K = 1024;
  const M = 1024 * 1024;
  const sizes = [0, 1, 64 * K - 1, 64 * K, 64 * K + 1, M - 1, M, M + 1, 3 * M + 7];
  for (const size of sizes) {
    test(`size ${size} equals hashBytes and the reference backend`, async () => {
      const data = randomBytes(size);
      const p = join(dir, `f-${size}`);
      writeFileSync(p, data);
      const r = await hashFile(p);
      expect(r.blake3).toBe(hashBytes(data));
      if (size <= M + 1) expect(r.blake3).toBe(noble.hashHex!(data));
      expect(r.size).toBe(size);
      expect(r.changed).toBe(false);
      expect(typeof r.mtimeNs).toBe("bigint");
      expect(r.ino > 0n).toBe(true);
      const fh = await open(p, "r");
      try {
        await fh.read(Buffer.alloc(10), 0, 10, null); // move the handle's offset: must not matter
        const r2 = await hashFileFromHandle(fh);
        expect(r2).toEqual(r);
        expect(await hashFileFromHandle(fh.fd)).toEqual(r);
      } finally {
        await fh.close();
      }
    });
  }

  test("concurrent calls on one thread share the buffer safely", async () => {
    const files = [5, 70_000, 2 * M + 3, 70 * M].map((n, i) => {
      const p = join(dir, `c-${i}`);
      const data = n > 10 * M ? Buffer.alloc(n, i) : randomBytes(n);
      writeFileSync(p, data);
      return { p, d: hashBytes(data) };
    });
    const rs = await Promise.all([...files, ...files].map((f) => hashFile(f.p)));
    rs.forEach((r, i) => expect(r.blake3).toBe(files[i % files.length]!.d));
  });

  test("a file appended to while it is hashed is reported as changed", async () => {
    // 70 MiB: hashFile yields to the event loop after 64 MiB, and the append queued with
    // setImmediate before the call runs exactly then: after the first fstat, before the last.
    const p = join(dir, "grows");
    writeFileSync(p, Buffer.alloc(70 * 1024 * 1024, 7));
    let appended = false;
    setImmediate(() => {
      appendFileSync(p, "more bytes");
      appended = true;
    });
    const r = await hashFile(p);
    expect(appended).toBe(true);
    expect(r.changed).toBe(true);
    const again = await hashFile(p);
    expect(again.changed).toBe(false);
    expect(again.size).toBe(70 * 1024 * 1024 + 10);
  });

  test("abort signal stops hashing", async () => {
    const p = join(dir, "abort");
    writeFileSync(p, Buffer.alloc(70 * 1024 * 1024, 1));
    const ac = new AbortController();
    setImmediate(() => ac.abort(new Error("stop")));
    await expect(hashFile(p, { signal: ac.signal })).rejects.toThrow("stop");
    const pre = new AbortController();
    pre.abort(new Error("already"));
    await expect(hashFile(p, { signal: pre.signal })).rejects.toThrow("already");
  });

  test("refuses symlinks, directories and FIFOs", async () => {
    const target = join(dir, "target");
    writeFileSync(target, "x");
    const link = join(dir, "link");
    symlinkSync(target, link);
    await expect(hashFile(link)).rejects.toMatchObject({ code: "ELOOP" });
    const sub = join(dir, "sub");
    mkdirSync(sub);
    await expect(hashFile(sub)).rejects.toMatchObject({ code: "not_regular_file" });
    const fifo = join(dir, "fifo");
    if (spawnSync("mkfifo", [fifo]).status === 0) {
      await expect(hashFile(fifo)).rejects.toMatchObject({ code: "not_regular_file" });
    }
    await expect(hashFile(join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("hashFileWithDigests: BLAKE3 and secondary digests from one read", () => {
  for (const size of [0, 1, 64 * 1024, 1024 * 1024 - 1, 1024 * 1024, 2 * 1024 * 1024 + 5]) {
    test(`size ${size} matches node:crypto and hashFile`, async () => {
      const data = randomBytes(size);
      const p = join(dir, `s-${size}`);
      writeFileSync(p, data);
      const got = await hashFileWithDigests(p, ["md5", "sha1", "sha256", "md5"]);
      expect(got.digests).toEqual({
        md5: createHash("md5").update(data).digest("hex"),
        sha1: createHash("sha1").update(data).digest("hex"),
        sha256: createHash("sha256").update(data).digest("hex"),
      });
      const plain = await hashFile(p);
      expect({ blake3: got.blake3, size: got.size, changed: got.changed }).toEqual({ blake3: plain.blake3, size, changed: false });
      expect((await hashFileWithDigests(p, ["sha1"])).digests).toEqual({ sha1: got.digests.sha1! });
      expect((await hashFileWithDigests(p, [])).digests).toEqual({});
    });
  }

  test("a file that does not match the lstat it was expected to have is reported changed (its digests describe no indexed version)", async () => {
    const p = join(dir, "s-changed");
    writeFileSync(p, "version one");
    const st = statSync(p, { bigint: true });
    writeFileSync(p, "version two, longer");
    const got = await hashFileWithDigests(p, ["sha256"], { expect: { size: Number(st.size), mtimeNs: st.mtimeNs, ino: st.ino } });
    expect(got.changed).toBe(true);
  });
});

describe("hash pool", () => {
  const M = 1024 * 1024;
  let pool: HashPool;
  beforeAll(() => {
    pool = createHashPool(2);
  });
  afterAll(async () => {
    await pool.close();
  });

  test("uses 1 or 2 worker threads and gives hashFile's results", async () => {
    expect(pool.size).toBeGreaterThanOrEqual(1);
    expect(pool.size).toBeLessThanOrEqual(2);
    const files = [0, 1, 4096, 2 * M + 3, 70 * M].map((n, i) => {
      const p = join(dir, `pool-${i}`);
      writeFileSync(p, n > 10 * M ? Buffer.alloc(n, 3) : randomBytes(n));
      return p;
    });
    const direct = await Promise.all(files.map((p) => hashFile(p)));
    expect(await Promise.all(files.map((p) => pool.hashFile(p)))).toEqual(direct); // all on workers
    expect(await Promise.all(files.map((p, i) => pool.hashFile(p, { size: direct[i]!.size })))).toEqual(direct); // small ones inline
  });

  test("errors cross the thread boundary with their codes", async () => {
    await expect(pool.hashFile(join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
    const sub = join(dir, "pool-dir");
    mkdirSync(sub);
    await expect(pool.hashFile(sub)).rejects.toMatchObject({ code: "not_regular_file", kind: "failure" });
  });

  test("abort rejects with the signal's reason", async () => {
    const p = join(dir, "pool-abort");
    writeFileSync(p, Buffer.alloc(70 * M, 9));
    const ac = new AbortController();
    const pending = pool.hashFile(p, { signal: ac.signal });
    ac.abort(new Error("stop pool"));
    await expect(pending).rejects.toThrow("stop pool");
    expect((await pool.hashFile(p)).size).toBe(70 * M); // the pool still works afterwards
  });

  test("a closed pool refuses work; size 0 hashes on the calling thread", async () => {
    const p = join(dir, "pool-small");
    writeFileSync(p, "abc");
    const tmp = createHashPool(1);
    await tmp.close();
    await expect(tmp.hashFile(p)).rejects.toThrow("closed");
    const inline = createHashPool(0);
    expect(inline.size).toBe(0);
    expect((await inline.hashFile(p)).blake3).toBe(hashBytes(Buffer.from("abc")));
    await inline.close();
  });

  test(
    "bun build --compile embeds the worker when it is passed as an extra entrypoint",
    async () => {
      const root = join(import.meta.dir, "..");
      const data = join(dir, "pool-compiled");
      writeFileSync(data, Buffer.alloc(3 * M + 1, 5));
      const expected = (await hashFile(data)).blake3;
      for (const [name, extra, workers] of [
        ["with-worker", ["src/kernel/hashworker.ts"], 2],
        ["without-worker", [], 0],
      ] as const) {
        const out = join(dir, name);
        const build = spawnSync(process.execPath, ["build", "test/fixtures/hashpool-driver.ts", ...extra, "--compile", "--outfile", out], { cwd: root, encoding: "utf8" });
        expect(build.status, build.stderr).toBe(0);
        const run = spawnSync(out, [data, data], { cwd: dir, encoding: "utf8" });
        expect(run.status, run.stderr).toBe(0);
        const got = JSON.parse(run.stdout);
        expect(got.digests).toEqual([expected, expected]);
        expect(got.workers).toBe(Math.min(workers, pool.size));
        rmSync(out, { force: true });
      }
    },
    60_000,
  );
});
