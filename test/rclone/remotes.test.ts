// The rclone plugin against real served remotes: WebDAV (no stored hashes: size-only warning, or
// BLAKE3 by download), SFTP (sha1), crypt defined only by env vars; unreachable remotes; secrets.

import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, FAKE_RCLONE, REAL_RCLONE, freePort, makeCtx, makeVolume, obscure, open, outcomes, overwriteKeepingTimes, serve, serveSftpRemote, tmp, type Server } from "./harness.ts";
import { sizeOnlyWarning } from "../../plugins/rclone/features.ts";
import { HoardError } from "../../src/kernel/errors.ts";

// rclone starts in ~0.2 s and the machine may be busy: give each test room
setDefaultTimeout(180_000);

let webdav: Server;
let sftp: Server;
let SFTP_PASS: string;
let sftpEnv: Record<string, string>;

beforeAll(async () => {
  let s: Awaited<ReturnType<typeof serveSftpRemote>>;
  [webdav, s] = await Promise.all([serve("webdav"), serveSftpRemote()]);
  ({ server: sftp, env: sftpEnv, pass: SFTP_PASS } = s);
});
afterAll(() => {
  webdav?.stop();
  sftp?.stop();
  cleanup();
});

const webdavRemote = () => `:webdav,url='http://127.0.0.1:${webdav.port}':hoard`;

describe("webdav (no stored hashes)", () => {
  test("hash mode: loud size-only warning at preflight and on push; outcomes are method size", async () => {
    const { handler } = open({ remote: webdavRemote() }, {}, "dav");
    const caps = await handler.capabilities();
    expect(caps.methods).toEqual(["size"]);
    expect(caps.warnings).toEqual([sizeOnlyWarning("dav")]);
    expect(caps.warnings[0]).toContain('set verify = "download"');
    expect(caps.facts!.hashes).toEqual([]);

    const vol = makeVolume({ "a.txt": "alpha", "sub dir/b [1].txt": "bravo" });
    const ctx = makeCtx(vol, { volume: "hashmode" });
    const res = await outcomes(handler.push(vol.manifest, ctx));
    for (const o of res.values()) expect(o).toMatchObject({ ok: true, method: "size" });
    expect(ctx.warnings).toContain(sizeOnlyWarning("dav"));
    expect(readFileSync(join(webdav.dir, "hoard", "hashmode", "sub dir", "b [1].txt"), "utf8")).toBe("bravo");
    // same size, different bytes: size-only cannot see it (which is why it is not offload evidence)
    writeFileSync(join(webdav.dir, "hoard", "hashmode", "a.txt"), "ALPHA");
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol, { volume: "hashmode" })));
    expect(ver.get("a.txt")).toMatchObject({ ok: true, method: "size" });
  });

  test("download mode: BLAKE3 of bytes read back; a same-size corruption is caught and repaired by push", async () => {
    const { handler, stateDir } = open({ remote: webdavRemote(), verify: "download" }, {}, "dav");
    const caps = await handler.capabilities();
    expect(caps.methods).toEqual(["blake3"]);
    expect(caps.warnings).toEqual([]);
    const vol = makeVolume({ "a.txt": "alpha", "new\nline.txt": "nl", "big.bin": new Uint8Array(300_000).fill(7) });
    const ctx = makeCtx(vol, { volume: "dlmode" });
    const res = await outcomes(handler.push(vol.manifest, ctx));
    for (const o of res.values()) expect(o).toMatchObject({ ok: true, method: "blake3" });
    expect(ctx.warnings).toEqual([]);

    const p = join(webdav.dir, "hoard", "dlmode", "a.txt");
    overwriteKeepingTimes(p, "ALPHA");
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol, { volume: "dlmode" })));
    expect(ver.get("a.txt")).toMatchObject({ ok: false });
    expect((ver.get("a.txt") as any).reason).toContain("BLAKE3");
    expect(ver.get("big.bin")).toMatchObject({ ok: true, method: "blake3" });

    const rep = await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "dlmode", runId: 99n })));
    expect(rep.get("a.txt")).toMatchObject({ ok: true, method: "blake3" });
    expect(readFileSync(p, "utf8")).toBe("alpha");
    // a re-push reads nothing back: unchanged objects are accepted on their receipts
    const ctx4 = makeCtx(vol, { volume: "dlmode", runId: 100n });
    const again = await outcomes(handler.push(vol.manifest, ctx4));
    for (const o of again.values()) expect(o).toMatchObject({ ok: true, unchanged: true, method: "blake3" });
    expect(ctx4.progressLog.some((x) => x.phase === "download")).toBe(false);
    // download batches leave nothing behind
    expect(readdirSync(stateDir).filter((n) => n.startsWith("download-"))).toEqual([]);
  });

  test("identity over webdav: a root directory not found is unreachable (not uninitialised); init creates it; an existing root without the marker is uninitialised", async () => {
    const remote = `:webdav,url='http://127.0.0.1:${webdav.port}':ident`;
    const { handler } = open({ remote });
    const missing = await handler.identify().catch((e) => e);
    expect(missing).toBeInstanceOf(HoardError);
    expect([missing.kind, missing.code]).toEqual(["failure", "dest_missing"]);
    expect(missing.message).toContain("does not exist");
    expect(missing.message).toContain("directory not found");
    const id = await handler.init();
    expect(((await handler.identify()) as any).id).toBe(id.id);
    // deleted through the server (its directory cache would hide a deletion made beside it)
    execFileSync(REAL_RCLONE, ["deletefile", `${remote}/.hoard-destination`], { env: { ...process.env, RCLONE_CONFIG: "/dev/null" }, stdio: "ignore" });
    expect(await handler.identify()).toBe("uninitialised");
  });

  test("an unreachable remote at identify time is an error, never uninitialised", async () => {
    const port = await freePort(); // nothing listens here
    const { handler } = open({ remote: `:webdav,url='http://127.0.0.1:${port}':x` }, { RCLONE_LOW_LEVEL_RETRIES: "1" });
    const err = await handler.identify().catch((e) => e);
    expect(err).toBeInstanceOf(HoardError);
    expect(err.kind).toBe("failure");
    expect(err.code).toBe("dest_unreachable");
    expect(err.message).toContain("connection refused");
  });
});

describe("sftp (rclone serve sftp)", () => {
  test("md5/sha1 listed: sha1 chosen; push and verify by sha1; remote defined by env only", async () => {
    const { handler } = open({ remote: "sftpd:backup" }, sftpEnv);
    const caps = await handler.capabilities();
    expect(caps.facts!.hashes).toEqual(expect.arrayContaining(["md5", "sha1"]));
    expect(caps.methods).toEqual(["sha1"]);
    expect((await handler.identify().catch((e) => e)).code).toBe("dest_missing"); // backup/ not made yet
    await handler.init();
    const vol = makeVolume({ "a.txt": "alpha", "d/b c.txt": "bravo", "#x": "hash" });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    for (const o of res.values()) expect(o).toMatchObject({ ok: true, method: "sha1" });
    writeFileSync(join(sftp.dir, "backup", "vol", "a.txt"), "ALPHA");
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("a.txt")).toMatchObject({ ok: false });
    expect(ver.get("d/b c.txt")).toMatchObject({ ok: true, method: "sha1" });
  });

  test("the secret never appears in any argv hoard spawns, nor in warnings or errors", async () => {
    const argvLog = join(tmp(), "argv.log");
    const env = { ...sftpEnv, HOARD_FAKE_RCLONE_MODE: "argvlog", HOARD_FAKE_RCLONE_LOG: argvLog, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE };
    const { handler, logs } = open({ remote: "sftpd:argv", binary: FAKE_RCLONE, verify: "download" }, env);
    await handler.capabilities();
    await handler.init();
    const vol = makeVolume({ "a.txt": "alpha" });
    const ctx = makeCtx(vol);
    await outcomes(handler.push(vol.manifest, ctx));
    await outcomes(handler.verify(vol.manifest, ctx));
    await handler.fetch(vol.manifest[0]!, join(tmp(), "f"), ctx);
    const argv = readFileSync(argvLog, "utf8");
    for (const sub of ["version", "backend", "cat", "rcat", "copy", "lsjson", "copyto"]) expect(argv).toContain(`---- ${sub}`);
    const everything = [argv, ...ctx.warnings, ...ctx.logs, ...logs].join("\n");
    expect(everything).not.toContain(SFTP_PASS);
    expect(everything).not.toContain(sftpEnv.RCLONE_CONFIG_SFTPD_PASS);

    // an rclone that echoes the secret in its errors: hoard's messages carry *** instead
    const leak = open({ remote: "sftpd:argv", binary: FAKE_RCLONE }, { ...sftpEnv, HOARD_FAKE_RCLONE_MODE: "leak", HOARD_FAKE_RCLONE_LEAK: "RCLONE_CONFIG_SFTPD_PASS", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const errs: string[] = [];
    for (const f of [() => leak.handler.identify(), () => leak.handler.capabilities(), () => leak.handler.fetch(vol.manifest[0]!, join(tmp(), "g"), ctx)]) {
      const e = await f().catch((x) => x);
      expect(e).toBeInstanceOf(HoardError);
      errs.push(e.message, e.hint ?? "");
    }
    const text = [...errs, ...leak.logs].join("\n");
    expect(text).toContain("***");
    expect(text).not.toContain(sftpEnv.RCLONE_CONFIG_SFTPD_PASS);
  });
});

describe("confirm over sftp (stored sha1, a remote that is not a local path)", () => {
  test("content by the stored sha1 also reads each object (the hash comes from a listing); an object deleted behind the server is confirmed at neither depth", async () => {
    const log = join(tmp(), "argv.log");
    const { handler } = open({ remote: "sftpd:confirm", binary: FAKE_RCLONE }, { ...sftpEnv, HOARD_FAKE_RCLONE_MODE: "argvlog", HOARD_FAKE_RCLONE_LOG: log, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    await handler.init();
    const vol = makeVolume({ "a.txt": "alpha", "d/b.txt": "bravo" });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const subs = () => readFileSync(log, "utf8").match(/^---- .*$/gm)!.map((l) => l.slice(5));
    const before = subs().length;
    const cont = await outcomes(handler.confirm(vol.manifest, makeCtx(vol), "content"));
    for (const e of vol.manifest) expect([e.path, cont.get(e.path)!.ok, (cont.get(e.path) as any).method]).toEqual([e.path, true, "sha1"]);
    // the hashing listing (split in parts where the server hashes by reading) and one cat
    const fresh = subs().slice(before);
    expect(fresh.filter((x) => x === "cat")).toHaveLength(1);
    expect(fresh.filter((x) => x !== "cat").every((x) => x === "lsjson")).toBe(true);
    rmSync(join(sftp.dir, "confirm", "vol", "d", "b.txt"));
    for (const depth of ["presence", "content"] as const) {
      const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol), depth));
      expect([depth, res.get("d/b.txt")!.ok]).toEqual([depth, false]);
      expect([depth, res.get("a.txt")!.ok]).toEqual([depth, true]);
    }
  });
});

describe("crypt over a local directory, defined purely by env vars", () => {
  const cryptEnv = () => {
    const base = tmp();
    return { base, env: { RCLONE_CONFIG_VAULT_TYPE: "crypt", RCLONE_CONFIG_VAULT_REMOTE: base, RCLONE_CONFIG_VAULT_PASSWORD: obscure("crypt-pw-" + Math.random()) } };
  };

  test("no hashes: size-only in hash mode", async () => {
    const { env } = cryptEnv();
    const { handler } = open({ remote: "vault:" }, env, "vault");
    const caps = await handler.capabilities();
    expect(caps.methods).toEqual(["size"]);
    expect(caps.warnings).toEqual([sizeOnlyWarning("vault")]);
    const vol = makeVolume({ "a.txt": "alpha" });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "size" });
  });

  test("download mode: BLAKE3 through decryption; tampered ciphertext is caught", async () => {
    const { base, env } = cryptEnv();
    const { handler } = open({ remote: "vault:" }, env, "vault");
    const dl = open({ remote: "vault:", verify: "download" }, env, "vault").handler;
    expect((await dl.capabilities()).methods).toEqual(["blake3"]);
    await handler.init();
    const vol = makeVolume({ "a.txt": "alpha".repeat(100), "b.txt": "bravo" });
    const res = await outcomes(dl.push(vol.manifest, makeCtx(vol)));
    for (const o of res.values()) expect(o).toMatchObject({ ok: true, method: "blake3" });
    // names are encrypted too: find the volume dir and flip one byte of one file's ciphertext
    const volDir = join(base, readdirSync(base).find((n) => statSync(join(base, n)).isDirectory())!);
    const files = readdirSync(volDir).map((n) => join(volDir, n)).filter((p) => statSync(p).isFile());
    const victim = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!; // the larger: a.txt
    const buf = readFileSync(victim);
    buf[buf.length - 5]! ^= 0xff;
    writeFileSync(victim, buf);
    const ver = await outcomes(dl.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("a.txt")).toMatchObject({ ok: false });
    expect(ver.get("b.txt")).toMatchObject({ ok: true, method: "blake3" });
    // the size-only handler cannot tell
    const sz = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(sz.get("a.txt")).toMatchObject({ ok: true, method: "size" });
  });
});
