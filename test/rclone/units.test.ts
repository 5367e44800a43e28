// Unit tests of the rclone plugin's pure parts: rclone's standard name encoding (checked against
// the real rclone), the JSON log parser, version parsing, hash choice, option checks, marker errors.

import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { standardPath, rcloneCanAddress } from "../../plugins/rclone/names.ts";
import { CopyLog, parseLogLine } from "../../plugins/rclone/log.ts";
import { choosePlan, parseVersion } from "../../plugins/rclone/features.ts";
import { joinRemote, secretParams } from "../../plugins/rclone/options.ts";
import { provesAbsent } from "../../plugins/rclone/identity.ts";
import { judgeCat } from "../../plugins/rclone/readable.ts";
import { lastErrorLine, Rclone } from "../../plugins/rclone/run.ts";
import { cleanup, REAL_RCLONE, rcloneType, tmp } from "./harness.ts";
import { Registry } from "../../src/kernel/registry.ts";
import plugin from "../../plugins/rclone/index.ts";

// rclone starts in ~0.2 s and the machine may be busy: give each test room
setDefaultTimeout(180_000);
afterAll(cleanup);

const HOSTILE = [
  "plain.txt",
  "with space.txt",
  " leading space",
  "trailing space ",
  "-leading-dash",
  "--double-dash",
  "#comment-like",
  ";semicolon-like",
  "quote\"double",
  "quote'single",
  "[brackets]*?.txt",
  "{braces}",
  "back\\slash",
  "ünïcødé €",
  "日本語",
  "new\nline",
  "car\rriage",
  "tab\there",
  "ctl\x01\x1f",
  "del\x7f",
  "sym␊lit",
  "sym␀lit",
  "full／slash",
  "．",
  "．．",
  "dir with space/inner ['x'].txt",
];

describe("standardPath matches rclone's own names", () => {
  test("every hostile name maps to what rclone lsjson prints for it", () => {
    const root = tmp();
    for (const name of HOSTILE) {
      const p = join(root, ...name.split("/"));
      mkdirSync(join(p, ".."), { recursive: true });
      writeFileSync(p, name);
    }
    const out = execFileSync(REAL_RCLONE, ["lsjson", "-R", "--files-only", "--no-mimetype", "--no-modtime", root], { env: { ...process.env, RCLONE_CONFIG: join(root, "none.conf") }, stdio: ["ignore", "pipe", "ignore"] }).toString();
    const listed = new Set((JSON.parse(out) as { Path: string }[]).map((o) => o.Path));
    for (const name of HOSTILE) expect(listed.has(standardPath(name))).toBe(true);
    expect(listed.size).toBe(HOSTILE.length);
  });

  test("standard names never contain a line break", () => {
    for (const name of HOSTILE) expect(/[\n\r]/.test(standardPath(name))).toBe(false);
  });

  test("names with the quote rune that rclone cannot open are recognised (checked by copying them)", () => {
    const names = ["q‛x", "‛", "lit‛␊nl", "q‛␀", "a‛／b", "lit␊nl", "plain"];
    const src = tmp();
    const dst = tmp();
    for (const n of names) writeFileSync(join(src, n), n);
    try {
      execFileSync(REAL_RCLONE, ["copy", src, dst, "--retries", "1"], { env: { ...process.env, RCLONE_CONFIG: join(src, "none.conf") }, stdio: "ignore" });
    } catch {
      /* rclone exits non-zero for the names it cannot open */
    }
    const landed = new Set(readdirSync(dst));
    for (const n of names) expect([n, rcloneCanAddress(n)]).toEqual([n, landed.has(n)]);
    expect(rcloneCanAddress("dir/q‛x")).toBe(false);
  });
});

describe("JSON log parser", () => {
  const fallback = "--checksum is in use but the source and destination have no hashes in common; falling back to --size-only";
  for (const level of ["warning", "notice"]) {
    test(`the hash fallback is a warning when logged at level ${level} (${level === "warning" ? "rclone ≤ 1.69" : "rclone ≥ 1.70"})`, () => {
      const warned: string[] = [];
      const log = new CopyLog({ warn: (m) => warned.push(m) });
      log.line(JSON.stringify({ level, msg: fallback, object: "webdav root 'vol'", objectType: "*webdav.Fs", source: "operations/operations.go:208", time: "t" }));
      log.line(JSON.stringify({ level, msg: fallback, source: "x", time: "t" }));
      expect(warned).toEqual([`rclone: ${fallback}`]);
      expect(log.hashFallback).toBe(true);
    });
  }

  test("stats lines become progress; copied objects and object errors are recorded per attempt", () => {
    const progress: number[] = [];
    const log = new CopyLog({ progress: (s) => progress.push(s.bytes ?? -1) });
    const line = (o: object) => log.line(JSON.stringify({ source: "s", time: "t", ...o }));
    line({ level: "info", msg: "\nTransferred: …", stats: { bytes: 17, totalBytes: 34, transfers: 1, totalTransfers: 2 } });
    line({ level: "info", msg: "Copied (new)", object: "a.txt", objectType: "*local.Object" });
    line({ level: "error", msg: "Failed to copy: boom", object: "b.txt", objectType: "*local.Object" });
    line({ level: "error", msg: "Failed to copy: boom", object: "c.txt", objectType: "*local.Object" });
    line({ level: "error", msg: "Attempt 1/3 failed with 2 errors and: boom", source: "cmd/cmd.go:283" });
    line({ level: "info", msg: "Copied (new)", object: "b.txt", objectType: "*local.Object" });
    line({ level: "error", msg: "Failed to copy: boom again", object: "c.txt", objectType: "*local.Object" });
    line({ level: "error", msg: "error listing: directory not found", object: "", objectType: "string" });
    log.line("2026/11/24 04:45:05 Failed to copy with 1 errors: last error was: boom again");
    log.line("not json at all");
    log.line("{ broken json");
    expect(progress).toEqual([17]);
    expect([...log.transferred].sort()).toEqual(["a.txt", "b.txt"]);
    expect([...log.objectErrors(1)]).toEqual([["c.txt", "Failed to copy: boom again"]]);
    expect(log.objectErrors(0).size).toBe(0);
    expect(log.generalErrors).toContain("error listing: directory not found");
    expect(log.fatal).toEqual(["Failed to copy with 1 errors: last error was: boom again"]);
  });

  test("plain lines and levels", () => {
    expect(parseLogLine("2026/11/24 04:40:49 ERROR : x: boom")).toMatchObject({ level: "error", msg: "x: boom", json: false });
    expect(parseLogLine('{"level":"notice","msg":"hi","source":"s","time":"t"}')).toMatchObject({ level: "notice", msg: "hi", json: true });
    expect(parseLogLine("")).toBeUndefined();
  });

  test("lastErrorLine prefers the final verdict", () => {
    const stderr = [
      '{"level":"warning","msg":"Config file not found","source":"s","time":"t"}',
      '{"level":"error","msg":"error listing: directory not found","object":"","objectType":"string","source":"s","time":"t"}',
      "2026/11/24 04:45:05 Failed to lsjson with 2 errors: last error was: error in ListJSON: directory not found",
    ].join("\n");
    expect(lastErrorLine(stderr)).toBe("Failed to lsjson with 2 errors: last error was: error in ListJSON: directory not found");
  });
});

describe("features", () => {
  test("parseVersion", () => {
    expect(parseVersion("rclone v1.60.1-DEV\n- os/version: debian")).toEqual({ version: "1.60.1-DEV", parts: [1, 60, 1] });
    expect(parseVersion("rclone v1.71.0\n")?.parts).toEqual([1, 71, 0]);
    expect(parseVersion("nonsense")).toBeUndefined();
  });

  test("hash choice: blake3 (≥ 1.71), then sha256, sha1, md5; else download or size", () => {
    const local = ["md5", "sha1", "whirlpool", "crc32", "sha256", "dropbox"];
    expect(choosePlan(local, [1, 60, 1], "hash")).toEqual({ mode: "hash", method: "sha256", hash: "sha256" });
    expect(choosePlan([...local, "blake3"], [1, 71, 0], "hash")).toEqual({ mode: "hash", method: "blake3", hash: "blake3" });
    expect(choosePlan([...local, "blake3"], [1, 70, 3], "hash").method).toBe("sha256");
    expect(choosePlan(["md5", "sha1"], [1, 60, 1], "hash").method).toBe("sha1");
    expect(choosePlan(["MD5"], [1, 60, 1], "download").method).toBe("md5");
    expect(choosePlan(["crc32"], [1, 60, 1], "download")).toEqual({ mode: "download", method: "blake3" });
    expect(choosePlan([], [1, 60, 1], "hash")).toEqual({ mode: "size", method: "size" });
  });
});

describe("options", () => {
  const { type } = rcloneType();
  const parse = (o: unknown) => v.safeParse(type.schema, o);

  test("defaults and accepted shapes", () => {
    const r = parse({ remote: "b2:bucket/path" });
    expect(r.success).toBe(true);
    expect(r.output).toEqual({ remote: "b2:bucket/path", verify: "hash" });
    expect(parse({ remote: "/srv/backup", verify: "download", checkers: 4, rclone_config: "/etc/rclone.conf", binary: "/usr/bin/rclone" }).success).toBe(true);
  });

  test("rejects unknown keys, bad values and secrets in connection strings", () => {
    expect(parse({ remote: "x:", bogus: 1 }).success).toBe(false);
    expect(parse({ remote: "relative/path" }).success).toBe(false);
    expect(parse({ remote: "x:", verify: "maybe" }).success).toBe(false);
    expect(parse({ remote: "x:", checkers: 1.5 }).success).toBe(false);
    expect(parse({ remote: "x:", rclone_config: "rel.conf" }).success).toBe(false);
    const bad = parse({ remote: ":sftp,host=h,user=u,pass=hunter2:path" });
    expect(bad.success).toBe(false);
    const msg = JSON.stringify(bad.issues?.map((i) => i.message));
    expect(msg).toContain("RCLONE_CONFIG_");
    expect(msg).not.toContain("hunter2");
    expect(secretParams(":s3,access_key_id=AK,secret_access_key=SK:bucket")).toEqual(["secret_access_key"]);
    expect(secretParams(":webdav,url='http://127.0.0.1:1':x")).toEqual([]);
  });

  test("joinRemote never makes an absolute path on the remote", () => {
    expect(joinRemote("s3:", "vol")).toBe("s3:vol");
    expect(joinRemote("s3:bucket", "vol")).toBe("s3:bucket/vol");
    expect(joinRemote("s3:bucket/", "vol")).toBe("s3:bucket/vol");
    expect(joinRemote("/srv/b", "vol")).toBe("/srv/b/vol");
  });
});

describe("redaction", () => {
  test("values of secret-named RCLONE_* variables are replaced; plain flags are not", () => {
    const { api } = rcloneType();
    const rc = new Rclone(api, { remote: "x:", verify: "hash" }, {
      RCLONE_CONFIG_X_SECRET_ACCESS_KEY: "abcd1234secret",
      RCLONE_CONFIG_X_PASS: "0bscur3dPa55",
      RCLONE_CONFIG_X_KEY_USE_AGENT: "true",
      RCLONE_CONFIG_X_TYPE: "s3",
      RCLONE_CONFIG_PASS: "configpassword",
    });
    expect(rc.redact("key abcd1234secret pass 0bscur3dPa55 cfg configpassword agent true type s3")).toBe("key *** pass *** cfg *** agent true type s3");
  });
});

describe("marker absence", () => {
  test("only not-found verdicts prove absence", () => {
    expect(provesAbsent(3, "")).toBe(true);
    expect(provesAbsent(4, "")).toBe(true);
    expect(provesAbsent(1, "2026/11/24 04:40:49 Failed to cat with 2 errors: last error was: directory not found")).toBe(true);
    expect(provesAbsent(1, "2026/11/24 04:40:49 Failed to cat: object not found")).toBe(true);
    expect(provesAbsent(1, '2026/11/24 Failed to create file system for "x:": read metadata failed: dial tcp 127.0.0.1:1: connect: connection refused')).toBe(false);
    expect(provesAbsent(1, "ERROR : x: object not found\n2026/11/24 04:40:49 Failed to cat: couldn't connect SSH: handshake failed")).toBe(false);
    expect(provesAbsent(7, "object not found")).toBe(false);
    expect(provesAbsent(null, "")).toBe(false);
  });
});

describe("first-byte reads (rclone cat --count 1)", () => {
  const run = (o: { code?: number | null; bytes: number; named?: [string, string][]; general?: string[] }) => ({ code: o.code === undefined ? 0 : o.code, bytes: o.bytes, named: new Map(o.named ?? []), general: o.general ?? [] });
  test("clean only with exit 0, no error line and exactly one byte per object asked", () => {
    expect(judgeCat(run({ bytes: 3 }), 3)).toEqual({ clean: true });
    // a silently skipped object: exit 0 but a byte short
    expect(judgeCat(run({ bytes: 2 }), 3).clean).toBe(false);
    expect(judgeCat(run({ bytes: 4 }), 3).clean).toBe(false);
    expect(judgeCat(run({ bytes: 3, general: ["error listing: x"] }), 3).clean).toBe(false);
    expect(judgeCat(run({ code: 5, bytes: 3 }), 3).clean).toBe(false);
    expect(judgeCat(run({ code: null, bytes: 3 }), 3).clean).toBe(false);
    const v = judgeCat(run({ code: 5, bytes: 2, named: [["b.txt", "Failed to send to output: unexpected EOF"]] }), 3);
    expect(v).toEqual({ clean: false, named: new Map([["b.txt", "Failed to send to output: unexpected EOF"]]) });
  });
});

describe("through the real plugin registry", () => {
  test("registers destination type rclone; its handler runs with the kernel's own util", async () => {
    const reg = new Registry();
    reg.register(plugin);
    expect(reg.plugins.find((p) => p.name === "rclone")?.destinations).toEqual(["rclone"]);
    const type = reg.destinationType("rclone");
    const opts = v.parse(type.schema, { remote: tmp() });
    const log = { info() {}, warn() {}, debug() {} };
    const h = type.open(opts, { name: "r", stateDir: tmp(), log, env: { ...process.env, RCLONE_CONFIG: join(tmp(), "none.conf") } });
    expect((await h.capabilities()).methods).toEqual(["sha256", "blake3"]);
    expect(await h.identify()).toBe("uninitialised");
  });
});
