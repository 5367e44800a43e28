// Tests of the kopia TEST DOUBLE (test/fixtures/kopia-double), run as a child process like hoard runs kopia.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const KOPIA = path.join(import.meta.dir, "fixtures", "kopia-double", "kopia");
const MAIN = path.join(import.meta.dir, "fixtures", "kopia-double", "main.ts");
let T = "";
let bin = ""; // a PATH dir holding only `bun` (the running binary may be named bun.exe)
let home = "";
let repo = "";
let src = "";

type Res = { code: number; out: string; err: string };
function kopia(args: string[], extraEnv: Record<string, string | undefined> = {}): Res {
  const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, HOME: home, KOPIA_PASSWORD: "correct horse" };
  for (const [k, v] of Object.entries(extraEnv)) if (v === undefined) delete env[k]; else env[k] = v;
  const p = Bun.spawnSync([KOPIA, ...args], { env, cwd: T, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}
const ok = (args: string[], env: Record<string, string | undefined> = {}) => {
  const r = kopia(args, env);
  if (r.code !== 0) throw new Error(`kopia ${args.join(" ")} failed (${r.code}): ${r.err}`);
  return r;
};
const cfg = (name = "repository.config") => path.join(home, ".config", "kopia", name);
const statusId = (env = {}) => JSON.parse(ok(["repository", "status", "--json"], env).out).uniqueIDHex as string;
const fileId = (root = repo) => Buffer.from(JSON.parse(fs.readFileSync(path.join(root, "kopia.repository.f"), "utf8")).uniqueID, "base64").toString("hex");
const create = (extra: string[] = []) => ok(["repository", "create", "filesystem", "--path", repo, "--no-check-for-updates", ...extra]);
const snap = (env = {}) => JSON.parse(ok(["snapshot", "create", src, "--json"], env).out);
const snap_ = (...flags: string[]) => JSON.parse(ok(["snapshot", "create", src, "--json", ...flags]).out);
const write = (rel: string, data: string | Uint8Array) => { fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true }); fs.writeFileSync(path.join(src, rel), data); };
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(() => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), "kopia-double-bin-"));
  fs.symlinkSync(process.execPath, path.join(bin, "bun"));
});
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));
beforeEach(() => {
  T = fs.mkdtempSync(path.join(os.tmpdir(), "kopia-double-"));
  home = path.join(T, "home"); repo = path.join(T, "repo"); src = path.join(T, "src");
  fs.mkdirSync(home);
  write("a.txt", "alpha\n");
  write("sub/b.bin", randomBytes(1000));
  write("sub/deep/c.txt", "");
});
afterEach(() => fs.rmSync(T, { recursive: true, force: true }));

describe("repository", () => {
  test("create, connect and status agree on the unique id", () => {
    const r = create();
    expect(r.out).toContain("kopia repository validate-provider");
    expect(r.err).toContain("Connected to repository.");
    const id = statusId();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(fileId());
    const other = path.join(T, "other.config");
    ok(["repository", "connect", "filesystem", "--path", repo, "--config-file", other, "--no-check-for-updates"]);
    expect(JSON.parse(ok(["repository", "status", "--json", "--config-file", other]).out)).toMatchObject({ uniqueIDHex: id, configFile: other, storage: { type: "filesystem", config: { path: repo } } });
    expect(ok(["repository", "status"]).out).toContain(`Unique ID:           ${id}`);
    ok(["repository", "disconnect"]);
    expect(fs.existsSync(cfg())).toBe(false);
    expect(kopia(["repository", "status", "--json"]).err).toContain("repository is not connected");
  });

  test("create refuses a non-empty location; connect refuses an uninitialised one and creates nothing", () => {
    create();
    const again = kopia(["repository", "create", "filesystem", "--path", repo, "--config-file", path.join(T, "x.config")]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("found existing data in storage location");
    const empty = path.join(T, "empty");
    fs.mkdirSync(empty);
    const c = kopia(["repository", "connect", "filesystem", "--path", empty, "--config-file", path.join(T, "y.config")]);
    expect(c).toMatchObject({ code: 1, out: "" });
    expect(c.err).toContain("error connecting to repository: repository not initialized in the provided storage");
    expect(fs.readdirSync(empty)).toEqual([]);
    expect(fs.existsSync(path.join(T, "y.config"))).toBe(false);
  });

  test("wrong password fails with exit 1 and leaves nothing behind", () => {
    create(["--create-only"]);
    expect(fs.existsSync(cfg())).toBe(false);
    const before = fs.readdirSync(repo);
    const r = kopia(["repository", "connect", "filesystem", "--path", repo, "--no-check-for-updates"], { KOPIA_PASSWORD: "wrong" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("error connecting to repository: unable to create format manager: invalid repository password");
    expect(fs.readdirSync(path.join(home, ".config", "kopia"))).toEqual([]); // no config, no password file
    expect(fs.readdirSync(path.join(home, ".cache", "kopia"))).toEqual([]); // cache removed again
    expect(fs.readdirSync(repo)).toEqual(before);
    ok(["repository", "connect", "filesystem", "--path", repo, "--no-check-for-updates"]);
    expect(kopia(["snapshot", "list", "--json"], { KOPIA_PASSWORD: "wrong " }).err).toContain("invalid repository password");
    expect(kopia(["snapshot", "list", "--json"], { KOPIA_PASSWORD: "  correct horse\n" }).code).toBe(0); // trimmed
  });

  test("--no-persist-credentials writes no password file; the default persists it", () => {
    create(["--no-persist-credentials"]);
    expect(fs.existsSync(cfg())).toBe(true);
    expect(fs.existsSync(cfg() + ".kopia-password")).toBe(false);
    expect(fs.existsSync(cfg() + ".update-info.json")).toBe(false);
    const noPass = kopia(["snapshot", "list", "--json"], { KOPIA_PASSWORD: undefined });
    expect(noPass.code).toBe(1);
    expect(noPass.err).toContain("get password");
    ok(["repository", "connect", "filesystem", "--path", repo]); // defaults: persist + update check
    expect(Buffer.from(fs.readFileSync(cfg() + ".kopia-password", "utf8"), "base64").toString()).toBe("correct horse");
    expect(fs.existsSync(cfg() + ".update-info.json")).toBe(true);
    expect(kopia(["snapshot", "list", "--json"], { KOPIA_PASSWORD: undefined }).code).toBe(0);
    ok(["repository", "disconnect"]);
    expect(fs.existsSync(cfg() + ".kopia-password")).toBe(false);
  });

  test("a re-created repository has a new id; status sees it only past kopia's format cache", () => {
    create();
    const first = statusId();
    const s = snap();
    // someone else re-creates the repository at the same path
    ok(["repository", "status", "--json"], { KOPIA_DOUBLE_RECREATE: "r1" });
    const second = fileId();
    expect(second).not.toBe(first);
    expect(statusId()).toBe(first); // real kopia: kopia.repository cached for 15 min in the cache dir
    ok(["repository", "connect", "filesystem", "--path", repo, "--disable-repository-format-cache", "--no-check-for-updates"]);
    expect(statusId()).toBe(second);
    expect(JSON.parse(ok(["snapshot", "list", "--json"]).out)).toEqual([]);
    expect(kopia(["snapshot", "verify", s.id]).code).toBe(1);
    ok(["repository", "status", "--json"], { KOPIA_DOUBLE_RECREATE: "r1" }); // same token: no second re-create
    expect(statusId()).toBe(second);
    expect(statusId({ KOPIA_DOUBLE_RECREATE: "r2" })).not.toBe(second);
    // a repository deleted and created again by hand also gets a new id
    ok(["repository", "disconnect"]);
    fs.rmSync(repo, { recursive: true });
    create();
    expect(statusId()).not.toBe(first);
  });

  test("KOPIA_DOUBLE_FAIL_CONNECT simulates unreachable storage", () => {
    const r = kopia(["repository", "create", "filesystem", "--path", repo], { KOPIA_DOUBLE_FAIL_CONNECT: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("can't connect to storage: cannot access storage path");
    expect(fs.existsSync(repo)).toBe(false);
    create();
    const c = kopia(["repository", "connect", "filesystem", "--path", repo], { KOPIA_DOUBLE_FAIL_CONNECT: "1" });
    expect(c.code).toBe(1);
    expect(c.err).toContain("host is down");
    expect(kopia(["snapshot", "create", src, "--json"], { KOPIA_DOUBLE_FAIL_CONNECT: "1" }).code).toBe(1);
  });

  test("kingpin-like flag handling and logging of invocations without secrets", () => {
    const logFile = path.join(T, "calls.jsonl");
    create();
    const bad = kopia(["snapshot", "create", src, "--no-check-for-updates"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("unknown long flag '--no-check-for-updates'");
    ok(["--config-file", cfg(), "snapshot", "list", "--json"], { KOPIA_DOUBLE_LOG: logFile });
    ok(["snapshot", "list", "--json", "--persist-credentials=false"], { KOPIA_DOUBLE_LOG: logFile });
    const lines = fs.readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.argv[0])).toEqual(["--config-file", "snapshot"]);
    expect(lines.every((l) => l.passwordEnv === true)).toBe(true);
    expect(fs.readFileSync(logFile, "utf8")).not.toContain("correct horse");
    expect(lines.some((l) => l.argv.includes("create"))).toBe(false);
  });

  test("runs as `bun main.ts` too", () => {
    const p = Bun.spawnSync([process.execPath, MAIN, "repository", "status"], { env: { HOME: home, PATH: "/usr/bin:/bin" }, stderr: "pipe" });
    expect(p.exitCode).toBe(1);
    expect(p.stderr.toString()).toContain("repository is not connected");
  });
});

describe("snapshots", () => {
  beforeEach(() => { create(); });

  test("create / list / ls / show / restore round trip with real bytes", () => {
    const big = randomBytes((4 << 20) + 12345); // > one 4 MiB chunk: indirect object
    write("big.bin", big);
    const m = snap();
    const root = structuredClone(m.rootEntry); // (bun's toMatchObject writes matchers into the received object)
    expect(m.id).toMatch(/^[0-9a-f]{32}$/);
    expect(m.source).toEqual({ host: expect.any(String), userName: expect.any(String), path: src });
    expect(m.incomplete).toBeUndefined();
    expect(m.stats).toBeUndefined(); // kopia strips stats from --json output of create
    expect(m.rootEntry).toMatchObject({ name: "src", type: "d", obj: expect.stringMatching(/^k[0-9a-f]{32}$/), summ: { files: 4, dirs: 3, numFailed: 0, size: 6 + 1000 + big.length } });
    expect(m.startTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const listed = JSON.parse(ok(["snapshot", "list", src, "--json"]).out);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: m.id, rootEntry: root, stats: { fileCount: 4, errorCount: 0 }, retentionReason: expect.arrayContaining(["latest-1"]) });
    expect(JSON.parse(ok(["snapshot", "list", path.join(T, "elsewhere"), "--json"]).out)).toEqual([]);

    expect(ok(["ls", m.id]).out).toBe("sub\na.txt\nbig.bin\n");
    const long = ok(["ls", "-l", `${m.id}/sub`]).out.split("\n");
    expect(long[0]).toMatch(/^drwx.* k[0-9a-f]{32} +deep\/$/);
    expect(long[1]).toMatch(/^-rw.* +1000 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ [0-9a-f]{32} +b\.bin$/);
    const bigEntry = ok(["ls", "-l", m.id]).out.split("\n").find((l) => l.endsWith("big.bin"))!;
    expect(bigEntry).toContain(" I");

    const shown = Bun.spawnSync([KOPIA, "show", `${root.obj}/big.bin`], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, KOPIA_PASSWORD: "correct horse" } });
    expect(shown.stderr.toString()).toBe("");
    expect(shown.exitCode).toBe(0);
    expect(sha(shown.stdout)).toBe(sha(big));
    const bySnapId = kopia(["show", `${m.id}/a.txt`]); // show takes object IDs, not snapshot IDs
    expect(bySnapId.code).toBe(1);
    expect(bySnapId.err).toContain("parent is not a directory");

    const out = path.join(T, "restored");
    ok(["snapshot", "restore", m.id, out]);
    expect(sha(fs.readFileSync(path.join(out, "big.bin")))).toBe(sha(big));
    expect(fs.readFileSync(path.join(out, "sub", "b.bin"))).toEqual(fs.readFileSync(path.join(src, "sub", "b.bin")));
    expect(fs.readFileSync(path.join(out, "sub", "deep", "c.txt"), "utf8")).toBe("");
    // the double restores times through utimes (float seconds): equal to the microsecond, not the nanosecond
    expect(Math.abs(fs.statSync(path.join(out, "a.txt")).mtimeMs - fs.statSync(path.join(src, "a.txt")).mtimeMs)).toBeLessThan(0.002);
    ok(["restore", `${m.id}/sub/b.bin`, path.join(T, "one.bin")]);
    expect(fs.readFileSync(path.join(T, "one.bin"))).toEqual(fs.readFileSync(path.join(src, "sub", "b.bin")));

    const v = JSON.parse(ok(["snapshot", "verify", "--verify-files-percent", "100", "--json", m.id]).out);
    expect(v).toMatchObject({ errorCount: 0, stats: { readFileCount: 4 } });
  });

  test("unchanged sources still get a new snapshot; retention keeps the latest 10", () => {
    const first = snap();
    const second = snap();
    expect(second.id).not.toBe(first.id);
    expect(second.rootEntry.obj).toBe(first.rootEntry.obj);
    const stats = JSON.parse(ok(["snapshot", "list", "--json"]).out).map((m: any) => m.stats);
    expect(stats[1]).toMatchObject({ cachedFiles: 3, nonCachedFiles: 0 });
    for (let i = 0; i < 10; i++) snap();
    const ids = JSON.parse(ok(["snapshot", "list", "--json"]).out).map((m: any) => m.id);
    expect(ids).toHaveLength(10);
    expect(ids).not.toContain(first.id);
  });

  test("fatal read error: partial snapshot is saved and printed, exit 1", () => {
    const r = kopia(["snapshot", "create", src, "--json"], { KOPIA_DOUBLE_PARTIAL: "sub/b.bin" });
    expect(r.code).toBe(1);
    const m = JSON.parse(r.out);
    expect(m.incomplete).toBeUndefined();
    expect(m.rootEntry.summ).toMatchObject({ files: 2, numFailed: 1, errors: [{ path: "sub/b.bin", error: expect.stringContaining("permission denied") }] });
    expect(r.err).toContain('Error when processing "sub/b.bin"');
    expect(r.err).toContain(`Found 1 fatal error(s) while snapshotting ${m.source.userName}@${m.source.host}:${src}.`);
    expect(JSON.parse(ok(["snapshot", "list", "--json"]).out).map((x: any) => x.id)).toEqual([m.id]);
    expect(ok(["ls", `${m.id}/sub`]).out).toBe("deep\n");
  });

  test("ignored error: warning, file omitted, exit 0", () => {
    const r = kopia(["snapshot", "create", src, "--json"], { KOPIA_DOUBLE_IGNORED_ERROR: "a.txt" });
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out);
    expect(m.rootEntry.summ).toMatchObject({ files: 2, numFailed: 0, numIgnoredErrors: 1, errors: [{ path: "a.txt" }] });
    expect(r.err).toContain("Ignored 1 error(s) while snapshotting");
    expect(ok(["ls", m.id]).out).not.toContain("a.txt");
  });

  test("a dropped blob is found by plain verify and is not repaired by the next snapshot", () => {
    const m = snap({ KOPIA_DOUBLE_DROP: "sub/b.bin" });
    const v = kopia(["snapshot", "verify", m.id]);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/error processing .*\/sub\/b\.bin: object [0-9a-f]{32} is backed by missing blob p[0-9a-f]{32}/);
    const j = kopia(["snapshot", "verify", "--json", "--verify-files-percent", "100", m.id]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ errorCount: 1, errorStrings: [expect.stringContaining("missing blob")] });
    const again = snap();
    expect(kopia(["snapshot", "verify", again.id]).code).toBe(1); // content dedup: kopia does not re-upload
    expect(kopia(["snapshot", "restore", m.id, path.join(T, "r")]).code).toBe(1);
    expect(kopia(["show", `${m.rootEntry.obj}/a.txt`]).out).toBe("alpha\n");
  });

  test("content verify names a lost blob's contents; content delete is dangerous and marks them deleted; a snapshot re-uploads a deleted content only when it hashes the file", () => {
    const m = snap({ KOPIA_DOUBLE_DROP: "sub/b.bin" });
    const obj = ok(["ls", "-l", "-r", m.rootEntry.obj]).out.split("\n").find((l) => l.endsWith(" sub/b.bin"))!.split(/ +/)[5]!;
    const v = kopia(["content", "verify"]);
    expect(v.code).toBe(1);
    expect(v.err).toContain(`content ${obj} depends on missing blob p${obj}`);
    expect(v.err).toContain("verify contents: encountered 1 errors: the repository is corrupted, it is missing pack blobs with index-referenced content");
    expect(v.err.match(/depends on missing blob/g)).toHaveLength(1);
    expect(kopia(["content", "verify", "--non-prefixed", "--prefix", "k"]).code).toBe(1); // --non-prefixed wins
    expect(ok(["content", "verify", "--prefixed"]).err).toContain("Finished verifying contents"); // directories only

    // dangerous: refused without the flag, nothing changed
    const refused = kopia(["content", "delete", obj]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("To run this command despite the warning, set --dangerous-commands=enabled");
    expect(kopia(["content", "verify"]).code).toBe(1);
    expect(kopia(["content", "rm", "--dangerous-commands=enabled", "0123456789abcdef0123456789abcdef"]).err).toContain("content not found");
    ok(["content", "delete", "--dangerous-commands=enabled", obj]);
    // deleted contents are skipped by content verify, unless asked for
    ok(["content", "verify"]);
    expect(kopia(["content", "verify", "--include-deleted"]).err).toContain(`content ${obj} depends on missing blob`);
    expect(kopia(["snapshot", "verify", m.id]).err).toContain(`object ${obj} is backed by missing blob`);

    // an unchanged file is taken from the previous snapshot: the deleted content is not written
    const cached = snap();
    expect(kopia(["snapshot", "verify", cached.id]).code).toBe(1);
    // hashed again, the file's bytes are written anew: every snapshot holding that content is whole again
    const hashed = snap_("--force-hash=100");
    expect(ok(["snapshot", "verify", "--verify-files-percent", "100", hashed.id]).code).toBe(0);
    ok(["snapshot", "verify", "--verify-files-percent", "100", m.id]);
    ok(["content", "verify", "--full"]);
    const shown = Bun.spawnSync([KOPIA, "show", obj], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, KOPIA_PASSWORD: "correct horse" }, cwd: T, stdout: "pipe" });
    expect(shown.exitCode).toBe(0);
    expect(Buffer.from(shown.stdout).equals(fs.readFileSync(path.join(src, "sub", "b.bin")))).toBe(true);
  });

  test("content verify --full reads contents: a corrupted one is invalid", () => {
    snap({ KOPIA_DOUBLE_CORRUPT: "a.txt" });
    ok(["content", "verify"]);
    const f = kopia(["content", "verify", "--full"]);
    expect(f.code).toBe(1);
    expect(f.err).toMatch(/content [0-9a-f]{32} is invalid: invalid checksum/);
  });

  test("a corrupted blob is found only when verify reads files", () => {
    const m = snap({ KOPIA_DOUBLE_CORRUPT: "a.txt" });
    expect(kopia(["snapshot", "verify", m.id]).code).toBe(0);
    const v = kopia(["snapshot", "verify", "--verify-files-percent", "100", m.id]);
    expect(v.code).toBe(1);
    expect(v.err).toContain("/a.txt: error reading object");
    expect(v.err).toContain("invalid checksum");
    expect(kopia(["show", `${m.rootEntry.obj}/a.txt`]).code).toBe(1);
    snap({ KOPIA_DOUBLE_CORRUPT: "a.txt" }); // idempotent: the blob stays corrupted, not flipped back
    expect(kopia(["snapshot", "verify", "--verify-files-percent", "100", m.id]).code).toBe(1);
  });

  test("no-json mode exits 0 with empty stdout and saves nothing", () => {
    snap();
    const r = kopia(["snapshot", "create", src, "--json"], { KOPIA_DOUBLE_NO_JSON: "1" });
    expect(r).toMatchObject({ code: 0, out: "" });
    expect(JSON.parse(ok(["snapshot", "list", "--json"]).out)).toHaveLength(1);
  });

  test("restore of placeholder files: each restored to its name, placeholder removed; --ignore-errors skips an unreadable object", () => {
    const m = snap({ KOPIA_DOUBLE_CORRUPT: "a.txt" });
    const objs = Object.fromEntries(ok(["ls", "-l", "-r", m.rootEntry.obj]).out.trim().split("\n").map((l) => { const f = l.split(/ +/); return [f.at(-1), f[5]]; }));
    const dir = path.join(T, "ph");
    fs.mkdirSync(dir);
    const ph = (name: string, obj: string) => { const p = path.join(dir, `${name}.kopia-entry`); fs.writeFileSync(p, JSON.stringify({ name, type: "f", mode: "0600", obj }) + "\n"); return p; };
    const good = ph("0", objs["sub/b.bin"]), bad = ph("1", objs["a.txt"]), empty = ph("2", objs["sub/deep/c.txt"]);
    const strict = kopia(["restore", good, bad, empty]);
    expect(strict.code).toBe(1);
    expect(strict.err).toContain("invalid checksum");
    expect(fs.existsSync(good)).toBe(false); // restored before the failure: its placeholder is gone
    for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n));
    ph("0", objs["sub/b.bin"]); ph("1", objs["a.txt"]); ph("2", objs["sub/deep/c.txt"]);
    const r = kopia(["restore", "--ignore-errors", "--write-files-atomically", "--skip-owners", "--skip-permissions", "--skip-times", good, bad, empty]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`ignored error copy file: error creating file: invalid checksum`);
    expect(fs.readFileSync(path.join(dir, "0"))).toEqual(fs.readFileSync(path.join(src, "sub", "b.bin")));
    expect(fs.readFileSync(path.join(dir, "2"), "utf8")).toBe("");
    expect(fs.existsSync(path.join(dir, "1"))).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual(["0", "1.kopia-entry", "2"]);
    // every source a placeholder, or a source and a target
    expect(kopia(["restore", good, path.join(T, "x")]).err).toContain("restore requires a source and targetpath or placeholders");
  });

  test("verify --file-id checks those objects only: blob presence without reads, contents with a percentage", () => {
    const m = snap({ KOPIA_DOUBLE_DROP: "a.txt", KOPIA_DOUBLE_CORRUPT: "sub/b.bin" });
    const objs = Object.fromEntries(ok(["ls", "-l", "-r", m.rootEntry.obj]).out.trim().split("\n").map((l) => { const f = l.split(/ +/); return [f.at(-1), f[5]]; }));
    const one = JSON.parse(ok(["snapshot", "verify", "--json", "--file-id", objs["sub/b.bin"]]).out);
    expect(one.stats).toMatchObject({ processedObjectCount: 1, readFileCount: 0 });
    const read = kopia(["snapshot", "verify", "--verify-files-percent", "100", "--file-id", objs["sub/b.bin"]]);
    expect(read.code).toBe(1);
    expect(read.err).toContain(`error processing ${objs["sub/b.bin"]}: error reading object ${objs["sub/b.bin"]}`);
    const gone = kopia(["snapshot", "verify", "--file-id", objs["sub/deep/c.txt"], "--file-id", objs["a.txt"]]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(`object ${objs["a.txt"]} is backed by missing blob`);
  });

  test("snapshot delete: only with --delete; the manifest goes, its contents stay", () => {
    const m = snap();
    expect(kopia(["snapshot", "delete", m.id]).err).toContain(`Would delete snapshot ${m.id}`);
    expect(JSON.parse(ok(["snapshot", "list", "--json"]).out)).toHaveLength(1);
    ok(["snapshot", "delete", m.id, "--delete"]);
    expect(JSON.parse(ok(["snapshot", "list", "--json"]).out)).toEqual([]);
    expect(ok(["show", `${m.rootEntry.obj}/a.txt`]).out).toBe("alpha\n");
    expect(kopia(["snapshot", "delete", "0123456789abcdef0123456789abcdef", "--delete"]).code).toBe(1);
  });

  test("verify of an unknown snapshot id fails", () => {
    const r = kopia(["snapshot", "verify", "0123456789abcdef0123456789abcdef"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("found 0 of the 1 requested snapshot IDs to verify");
  });
});
