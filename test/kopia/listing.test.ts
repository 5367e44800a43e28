// Unit tests of what the kopia plugin parses (ls -l -r, snapshot JSON, Go times) and of its process
// environment; plus the parser checked against the test double's real output for awkward names.

import { spawnTool } from "../../src/kernel/spawn.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { floorSec, parseCreateOutput, parseGoTime, parseLongListing, parseSnapshotList, verifyErrors } from "../../plugins/kopia/listing.ts";
import { errorText, Kopia } from "../../plugins/kopia/exec.ts";
import { DOUBLE_DIR, REAL } from "./harness.ts";
import { ROOT } from "../helpers.ts";

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("parsing", () => {
  test("ls -l -r lines: files, dirs with error counts, symlinks, long object ids, names with spaces", () => {
    const oid = "a42f54b28d29942176dae8330c554cd7";
    const long = "Ix" + "0123456789abcdef".repeat(3); // longer than the 34-column pad
    const text = [
      `drwxr-xr-x         4096 2026-11-03 12:34:56 UTC k3cdf5689a7428c45b1522c19fd2692f7  dir/ (2 errors)`,
      `-rw-r--r--            6 2026-11-03 12:34:56 UTC ${oid.padEnd(34)} dir/a.txt`,
      `-rw-r--r--      9000000 1969-12-31 23:59:59 UTC ${long} dir/big file.bin`,
      `-rw-r--r--            1 2026-11-03 12:34:56 UTC ${oid.padEnd(34)}  leading space`,
      `Lrwxrwxrwx            5 2026-11-03 12:34:56 UTC ${oid.padEnd(34)} link`,
      `urwxr-xr-x            3 2026-11-03 12:34:56 UTC ${oid.padEnd(34)} setuid`,
      `-rw-r--r--            3 2026-11-03 12:34:56 CET ${oid.padEnd(34)} local-time`,
      `garbage line`,
    ].join("\n");
    const m = parseLongListing(text);
    expect(m.get("dir")).toMatchObject({ kind: "dir" });
    expect(m.get("dir/a.txt")).toEqual({ kind: "file", size: 6, mtimeSec: BigInt(Date.UTC(2026, 10, 3, 12, 34, 56) / 1000), obj: oid });
    expect(m.get("dir/big file.bin")).toEqual({ kind: "file", size: 9000000, mtimeSec: -1n, obj: long });
    expect(m.get(" leading space")?.kind).toBe("file");
    expect(m.get("link")?.kind).toBe("other");
    expect(m.get("setuid")?.kind).toBe("file");
    expect(m.get("local-time")?.mtimeSec).toBeNull();
    expect(m.size).toBe(7);
  });

  test("Go times, seconds rounded down, snapshot JSON and verify errors", () => {
    expect(parseGoTime("2026-11-03T12:34:56.123456789Z")).toBe(BigInt(Date.UTC(2026, 10, 3, 12, 34, 56)) * 1_000_000n + 123_456_789n);
    expect(parseGoTime("2026-11-03T12:34:56Z")).toBe(BigInt(Date.UTC(2026, 10, 3, 12, 34, 56)) * 1_000_000n);
    expect(parseGoTime("2026-11-03T13:34:56.5+01:00")).toBe(BigInt(Date.UTC(2026, 10, 3, 12, 34, 56)) * 1_000_000n + 500_000_000n);
    expect(parseGoTime("yesterday")).toBeNull();
    expect(floorSec(1_999_999_999n)).toBe(1n);
    expect(floorSec(-1n)).toBe(-1n);
    expect(floorSec(-1_000_000_000n)).toBe(-1n);

    const man = { id: "aa", source: { host: "h", userName: "u", path: "/v" }, startTime: "2026-11-03T12:00:00Z", rootEntry: { obj: "kroot", summ: { numFailed: 1, errors: [{ path: "x", error: "denied" }] } } };
    expect(parseCreateOutput(`Snapshotting u@h:/v ...\n${JSON.stringify(man)}\n`)).toMatchObject({ id: "aa", rootObj: "kroot", numFailed: 1, errors: [{ path: "x", error: "denied" }], sourceHost: "h" });
    expect(parseCreateOutput("")).toBeUndefined();
    expect(parseCreateOutput("not json")).toBeUndefined();
    const older = { ...man, id: "old", startTime: "2026-11-03T11:00:00.999999999Z" };
    expect(parseSnapshotList(JSON.stringify([older, man])).map((s) => s.id)).toEqual(["aa", "old"]);
    expect(() => parseSnapshotList("{}")).toThrow();
    expect(verifyErrors("Finished processing 3 objects (1 KB). Read 1 files (1 KB).\nerror processing u@h:/v@x/a: BLOB not found\n")).toEqual(["error processing u@h:/v@x/a: BLOB not found"]);
  });
});

describe("the kopia process", () => {
  test("environment: the password only as KOPIA_PASSWORD, inherited kopia settings dropped, fault variables kept", () => {
    const k = new Kopia({ binary: "kopia", password: " s3cret ", stateDir: "/state", env: { PATH: "/bin", KOPIA_PASSWORD: "inherited", KOPIA_CONFIG_PATH: "/elsewhere", KOPIA_DANGEROUS_COMMANDS: "enabled", KOPIA_DOUBLE_DROP: "x", HOME: "/h" }, spawn: spawnTool });
    const env = k.env();
    expect(env.KOPIA_PASSWORD).toBe(" s3cret ");
    expect(env.KOPIA_CONFIG_PATH).toBeUndefined();
    expect(env.KOPIA_DANGEROUS_COMMANDS).toBeUndefined();
    expect(env.KOPIA_DOUBLE_DROP).toBe("x");
    expect(env.KOPIA_CHECK_FOR_UPDATES).toBe("false");
    expect(env.TZ).toBe("UTC");
    expect(k.common()).toEqual(["--config-file", "/state/repository.config", "--no-persist-credentials"]);
    expect(k.scrub("a s3cret b  s3cret  c")).toBe("a<password>b <password> c"); // the untrimmed form first
    expect(k.scrub("x:s3cret.")).toBe("x:<password>.");
    expect(errorText({ code: 1, signal: null, stdout: Buffer.from(""), stderr: "x\n\ny\nz\nw\n" })).toBe("y; z; w");
  });

  test.skipIf(REAL)("the listing parser agrees with the double's `ls -l -r` for awkward names, sizes and mtimes", async () => {
    const d = mkdtempSync(join(tmpdir(), "kopia-listing-"));
    tmp.push(d);
    const src = join(d, "src");
    const files: Record<string, string> = { "a.txt": "alpha", "sp ace/ x y.txt": "two  spaces", "é/ü.bin": "x".repeat(5000), "empty": "" };
    for (const [rel, c] of Object.entries(files)) {
      mkdirSync(join(src, rel, ".."), { recursive: true });
      writeFileSync(join(src, rel), c);
    }
    utimesSync(join(src, "a.txt"), 1_600_000_000.75, 1_600_000_000.75);
    const k = new Kopia({ binary: join(DOUBLE_DIR, "kopia"), password: "pw", stateDir: join(d, "state"), env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` }, spawn: spawnTool });
    const ok = async (args: string[]) => {
      const r = await k.run(args);
      if (r.code !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
      return r.stdout.toString();
    };
    await ok(["repository", "create", "filesystem", "--path", join(d, "repo"), ...k.common(), "--no-check-for-updates"]);
    const snap = parseCreateOutput(await ok(["snapshot", "create", src, "--json", ...k.common()]))!;
    const m = parseLongListing(await ok(["ls", "-l", "-r", snap.rootObj, ...k.common()]));
    for (const rel of Object.keys(files)) {
      const st = lstatSync(join(src, rel), { bigint: true });
      expect({ rel, ...m.get(rel), obj: undefined }).toEqual({ rel, kind: "file", size: Number(st.size), mtimeSec: floorSec(st.mtimeNs), obj: undefined });
    }
    expect(m.get("sp ace")?.kind).toBe("dir");
    expect(m.get("a.txt")!.mtimeSec).toBe(1_600_000_000n);
    const out: Buffer[] = [];
    const r = await k.run(["show", m.get("é/ü.bin")!.obj, ...k.common()], { sink: (b) => out.push(b) });
    expect(r.code).toBe(0);
    expect(Buffer.concat(out).toString()).toBe(files["é/ü.bin"]!);
  }, 180_000);
});
