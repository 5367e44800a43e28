// Tests of src/config: loading and strict validation of config.toml, path resolution, secrets,
// text-preserving edits, the starter config and durations.

import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import fc from "fast-check";
import { parse as parseToml } from "smol-toml";
import { HoardError } from "../src/kernel/errors.ts";
import { sanitisedHostname } from "../src/kernel/runtime.ts";
import { formatDuration, parseDuration } from "../src/kernel/duration.ts";
import { secret } from "../src/kernel/secret.ts";
import { loadConfig, parseConfig, type ConfigExtensions } from "../src/config/load.ts";
import { readConfigText, resolveConfigPath, resolveDbPath } from "../src/config/paths.ts";
import { addVolumeToConfigText, writeFileAtomic } from "../src/config/edit.ts";
import { starterConfig } from "../src/config/starter.ts";

const tmpRoot = mkdtempSync(join(tmpdir(), "hoard-config-test-"));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;
const tmp = () => mkdtempSync(join(tmpRoot, `t${n++}-`));

const ext = (): ConfigExtensions => ({
  destinationTypes: new Map<string, v.GenericSchema>([
    ["fs", v.strictObject({ path: v.string() })],
    ["rclone", v.strictObject({ remote: v.string(), flags: v.optional(v.array(v.string()), () => []) })],
    ["kopia", v.strictObject({ repository: v.string(), password: secret() })],
  ]),
  destinationKeys: new Map<string, v.GenericSchema>([["max_evidence_age", v.optional(v.string())]]),
  rootKeys: new Map<string, v.GenericSchema>([["staleness", v.optional(v.strictObject({ default_max_age: v.string() }))]]),
});

/** Write text to a fresh config file and load it. */
function load(text: string, e = ext()) {
  const file = join(tmp(), "config.toml");
  writeFileSync(file, text);
  return { file, cfg: loadConfig(file, e, { required: true }) };
}

/** The config error thrown by loading text (fails the test if nothing or something else is thrown). */
function loadError(text: string, e = ext()): { file: string; err: HoardError } {
  const file = join(tmp(), "config.toml");
  writeFileSync(file, text);
  try {
    loadConfig(file, e, { required: true });
  } catch (err) {
    expect(err).toBeInstanceOf(HoardError);
    const h = err as HoardError;
    expect(h.kind).toBe("config");
    expect(h.exitCode).toBe(2);
    expect(h.message).toContain(file);
    return { file, err: h };
  }
  throw new Error("expected a config error");
}

const VALID = `# my config
node = "laptop"
db = "/var/lib/hoard/hoard.db"
plugins = ["./plugins/x.ts", "/opt/hoard/y.ts"]

[staleness]
default_max_age = "30d"

[volumes.photos]
path = "/home/me/Photos/"
sync_to = ["nas", "cloud"]
offload_requires = ["nas"]

[volumes.photos.hook]
command = ["/usr/bin/true", "--flag"]

[volumes."music.flac"]
path = "/srv/music"

[destinations.nas]
type = "fs"
path = "/mnt/nas/hoard"
max_evidence_age = "14d"

[destinations.cloud]
type = "rclone"
remote = "b2:bucket/hoard"
`;

describe("loading", () => {
  test("a valid config round trip", () => {
    const { file, cfg } = load(VALID);
    expect(cfg.file).toBe(file);
    expect(cfg.node).toBe("laptop");
    expect(cfg.db).toBe("/var/lib/hoard/hoard.db");
    expect(cfg.plugins).toEqual([join(file, "..", "plugins", "x.ts"), "/opt/hoard/y.ts"]);
    expect(cfg.volumes.photos).toEqual({
      name: "photos",
      path: "/home/me/Photos",
      sync_to: ["nas", "cloud"],
      offload_requires: ["nas"],
      exclude: [],
      hook: { command: ["/usr/bin/true", "--flag"], timeout_ns: 3_600_000_000_000n },
    });
    expect(cfg.volumes["music.flac"]).toEqual({ name: "music.flac", path: "/srv/music", sync_to: [], offload_requires: [], exclude: [] });
    expect(cfg.destinations.nas).toEqual({
      name: "nas",
      type: "fs",
      options: { path: "/mnt/nas/hoard" },
      // the built-in proof keys every destination carries, at their defaults
      table: { type: "fs", path: "/mnt/nas/hoard", max_evidence_age: "14d", offload_confirm: "presence", reverify_after: 30n * 86_400_000_000_000n, reverify_budget: 1024 ** 3, trusted: false },
    });
    expect(cfg.destinations.cloud!.options).toEqual({ remote: "b2:bucket/hoard", flags: [] });
    expect(cfg.extra).toEqual({ staleness: { default_max_age: "30d" } });
  });

  test("defaults: node from the host name, no db, nothing else", () => {
    const { cfg } = load("");
    expect(cfg.node).toBe(sanitisedHostname());
    expect(cfg.db).toBeUndefined();
    expect(cfg).toMatchObject({ plugins: [], volumes: {}, destinations: {}, extra: {} });
  });

  test("a missing file is the empty config unless required", () => {
    const file = join(tmp(), "nope.toml");
    expect(readConfigText(file)).toBeUndefined();
    const cfg = loadConfig(file, ext());
    expect(cfg).toEqual({ file: "", node: sanitisedHostname(), plugins: [], volumes: {}, destinations: {}, extra: {} });
    try {
      loadConfig(file, ext(), { required: true });
      throw new Error("expected an error");
    } catch (e) {
      expect((e as HoardError).kind).toBe("config");
      expect((e as HoardError).message).toContain(file);
    }
  });

  test("a file that is not UTF-8 is a config error", () => {
    const file = join(tmp(), "config.toml");
    writeFileSync(file, new Uint8Array([0x6e, 0x3d, 0x22, 0xff, 0x22, 0x0a]));
    expect(() => readConfigText(file)).toThrow(/not valid UTF-8/);
  });
});

describe("strict validation names every offending key path", () => {
  test("unknown key at top level", () => {
    const { err } = loadError(`node = "x"\ncolour = "red"\nshade = 2\n`);
    expect(err.message).toContain("colour: unknown key");
    expect(err.message).toContain("shade: unknown key");
    expect(err.code).toBe("config_invalid");
    expect((err.details!.issues as unknown[]).length).toBe(2);
  });

  test("unknown keys in a volume (all of them, not only the first)", () => {
    const { err } = loadError(`[volumes.photos]\npath = "/p"\ncolour = "red"\nsize = 3\n`);
    expect(err.message).toContain("volumes.photos.colour: unknown key");
    expect(err.message).toContain("volumes.photos.size: unknown key");
  });

  test("unknown key in a hook", () => {
    const { err } = loadError(`[volumes.photos]\npath = "/p"\n[volumes.photos.hook]\ncommand = ["x"]\nshell = true\n`);
    expect(err.message).toContain("volumes.photos.hook.shell: unknown key");
  });

  test("unknown keys in a destination (plugin keys and common keys checked)", () => {
    const { err } = loadError(`[destinations.nas]\ntype = "fs"\npath = "/n"\nspeed = 1\nextra = 2\n`);
    expect(err.message).toContain("destinations.nas.speed: unknown key");
    expect(err.message).toContain("destinations.nas.extra: unknown key");
  });

  test("unknown key in a nested root key table registered by a plugin", () => {
    const { err } = loadError(`[staleness]\ndefault_max_age = "1d"\nmax = 3\n`);
    expect(err.message).toContain("staleness.max: unknown key");
  });

  test("wrong types", () => {
    const { err } = loadError(
      `node = 5\nplugins = "x.ts"\n[volumes.photos]\npath = true\nsync_to = "nas"\n[volumes.photos.hook]\ncommand = "rm -rf /"\ntimeout = 5\n[destinations.nas]\ntype = "fs"\npath = 5\nmax_evidence_age = 3\n`,
    );
    for (const line of [
      "node: expected a string, got an integer",
      "plugins: expected an array of plugin paths, got a string",
      "volumes.photos.path: expected a string (an absolute path), got a boolean",
      "volumes.photos.sync_to: expected an array of destination names, got a string",
      "volumes.photos.hook.command: expected an array of strings (program and arguments), got a string",
      'volumes.photos.hook.timeout: expected a duration string such as "12h", got an integer',
      "destinations.nas.path: expected a string, got an integer",
      "destinations.nas.max_evidence_age: expected a string, got an integer",
    ])
      expect(err.message).toContain(line);
  });

  test("the built-in proof keys of a destination: values parsed, bad ones named", () => {
    const { cfg } = load(`[destinations.nas]\ntype = "fs"\npath = "/n"\noffload_confirm = "content"\nreverify_after = "12h"\nreverify_budget = "500MB"\ntrusted = true\n`);
    expect(cfg.destinations.nas!.table).toMatchObject({ offload_confirm: "content", reverify_after: 12n * 3_600_000_000_000n, reverify_budget: 500_000_000, trusted: true });
    expect(cfg.destinations.nas!.options).toEqual({ path: "/n" }); // not passed to the plugin as its own options
    const { err } = loadError(`[destinations.nas]\ntype = "fs"\npath = "/n"\noffload_confirm = "maybe"\nreverify_after = "soon"\nreverify_budget = "lots"\ntrusted = "yes"\n`);
    for (const line of [
      "destinations.nas.offload_confirm: expected \"presence\" or \"content\"",
      "destinations.nas.reverify_after: invalid duration",
      "destinations.nas.reverify_budget: invalid size",
      "destinations.nas.trusted: expected a boolean, got a string",
    ])
      expect(err.message).toContain(line);
  });

  test("an array where a table belongs", () => {
    const { err } = loadError(`[[volumes]]\npath = "/p"\n`);
    expect(err.message).toContain("volumes: expected a table, got an array");
  });

  test("missing required keys", () => {
    const { err } = loadError(`[volumes.photos]\nsync_to = []\n[destinations.nas]\npath = "/n"\n[volumes.x.hook]\ntimeout = "1m"\n`);
    expect(err.message).toContain("volumes.photos.path: missing required key");
    expect(err.message).toContain("destinations.nas.type: missing required key");
    expect(err.message).toContain("volumes.x.hook.command: missing required key");
  });

  test("relative paths are errors", () => {
    const { err } = loadError(`db = "hoard.db"\n[volumes.photos]\npath = "Photos"\n[volumes.home]\npath = "~/x"\n`);
    expect(err.message).toContain("db: must be an absolute path");
    expect(err.message).toContain("volumes.photos.path: must be an absolute path");
    expect(err.message).toContain("volumes.home.path: must be an absolute path (~ is not expanded)");
  });

  test("invalid volume and destination names", () => {
    const { err } = loadError(`[volumes."Photos"]\npath = "/p"\n[destinations."my nas"]\ntype = "fs"\npath = "/n"\n`);
    expect(err.message).toContain('volumes.Photos: invalid volume name "Photos"');
    expect(err.message).toContain('destinations."my nas": invalid destination name "my nas"');
  });

  test("an unset env secret is an issue naming the key path; the error never shows a secret", () => {
    delete process.env.HOARD_TEST_UNSET_PW;
    const { err } = loadError(
      `[destinations.nas]\ntype = "kopia"\nrepository = "/r"\npassword = { env = "HOARD_TEST_UNSET_PW" }\n[destinations.other]\ntype = "kopia"\nrepository = 5\npassword = "hunter2"\n`,
    );
    expect(err.message).toContain("destinations.nas.password: environment variable HOARD_TEST_UNSET_PW is not set");
    expect(err.message).toContain("destinations.other.repository: expected a string, got an integer");
    expect(err.message).not.toContain("hunter2");
  });

  test("a set env secret is resolved at parse time", () => {
    process.env.HOARD_TEST_SET_PW = "s3cret value";
    try {
      const { cfg } = load(`[destinations.nas]\ntype = "kopia"\nrepository = "/r"\npassword = { env = "HOARD_TEST_SET_PW" }\n`);
      expect(cfg.destinations.nas!.options).toEqual({ repository: "/r", password: "s3cret value" });
      const { cfg: plain } = load(`[destinations.nas]\ntype = "kopia"\nrepository = "/r"\npassword = "literal"\n`);
      expect(plain.destinations.nas!.options.password).toBe("literal");
    } finally {
      delete process.env.HOARD_TEST_SET_PW;
    }
  });

  test("a malformed secret table", () => {
    const { err } = loadError(`[destinations.nas]\ntype = "kopia"\nrepository = "/r"\npassword = { var = "X" }\n`);
    expect(err.message).toContain('destinations.nas.password: expected a string or { env = "VAR" }, got a table');
  });

  test("unknown destination type lists the known ones", () => {
    const { err } = loadError(`[destinations.nas]\ntype = "ftp"\nhost = "x"\n`);
    expect(err.message).toContain('destinations.nas.type: unknown destination type "ftp" (known: fs, kopia, rclone)');
  });

  test("sync_to / offload_requires naming an undeclared destination", () => {
    const { err } = loadError(
      `[volumes.photos]\npath = "/p"\nsync_to = ["nas", "s3"]\noffload_requires = ["b2"]\n[destinations.nas]\ntype = "fs"\npath = "/n"\n`,
    );
    expect(err.message).toContain('volumes.photos.sync_to[1]: unknown destination "s3" (declared: nas)');
    expect(err.message).toContain('volumes.photos.offload_requires[0]: unknown destination "b2" (declared: nas)');
  });

  test("cross-table checks are reported together with other problems", () => {
    const { err } = loadError(`bogus = 1\n[volumes.photos]\npath = "/p"\nsync_to = ["s3"]\n`);
    expect(err.message).toContain("bogus: unknown key");
    expect(err.message).toContain('volumes.photos.sync_to[0]: unknown destination "s3" (declared: none)');
  });

  test("hook command must be non-empty and timeout a positive duration", () => {
    const { err } = loadError(`[volumes.a]\npath = "/a"\n[volumes.a.hook]\ncommand = []\ntimeout = "soon"\n[volumes.b]\npath = "/b"\n[volumes.b.hook]\ncommand = ["x"]\ntimeout = "0s"\n`);
    expect(err.message).toContain("volumes.a.hook.command: must be a non-empty array of strings");
    expect(err.message).toContain('volumes.a.hook.timeout: invalid duration "soon"');
    expect(err.message).toContain("volumes.b.hook.timeout: must be longer than zero");
  });

  test("overlapping volumes are errors", () => {
    const { err } = loadError(`[volumes.all]\npath = "/data"\n[volumes.photos]\npath = "/data/photos"\n[volumes.again]\npath = "/data/"\n`);
    expect(err.message).toContain('volumes.photos.path: is inside volume "all" (/data)');
    expect(err.message).toContain('volumes.all.path: is the same directory as volume "again"');
  });

  test("TOML syntax error reports line and column", () => {
    const { err } = loadError(`node = "x"\n\n[volumes.photos]\npath = "/p\npassword = "hunter2"\n`);
    expect(err.code).toBe("config_syntax");
    expect(err.message).toMatch(/line 4, column \d+/);
    expect(err.details).toMatchObject({ line: 4 });
    expect(err.message).not.toContain("hunter2");
  });
});

describe("path resolution", () => {
  const saved: Record<string, string | undefined> = {};
  const keys = ["HOARD_CONFIG", "HOARD_DB", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HOME"];
  beforeEach(() => {
    for (const k of keys) saved[k] = process.env[k];
    for (const k of keys) delete process.env[k];
  });
  afterEach(() => {
    for (const k of keys) if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  });

  test("config path: flag, then $HOARD_CONFIG, then $XDG_CONFIG_HOME, then ~/.config", () => {
    const home = tmp();
    process.env.HOME = home;
    expect(resolveConfigPath()).toBe(join(home, ".config", "hoard", "config.toml"));
    process.env.XDG_CONFIG_HOME = "/xdg/config";
    expect(resolveConfigPath()).toBe("/xdg/config/hoard/config.toml");
    process.env.XDG_CONFIG_HOME = "relative/ignored";
    expect(resolveConfigPath()).toBe(join(home, ".config", "hoard", "config.toml"));
    process.env.HOARD_CONFIG = "/etc/hoard.toml";
    expect(resolveConfigPath()).toBe("/etc/hoard.toml");
    expect(resolveConfigPath(undefined)).toBe("/etc/hoard.toml");
    expect(resolveConfigPath("/flag/config.toml")).toBe("/flag/config.toml");
    expect(resolveConfigPath("rel.toml")).toBe(join(process.cwd(), "rel.toml"));
  });

  test("db path: flag, then $HOARD_DB, then the config's db, then $XDG_DATA_HOME, then ~/.local/share", () => {
    const home = tmp();
    process.env.HOME = home;
    const cfg = parseConfig(`db = "/cfg/hoard.db"\n`, join(home, "c.toml"), ext());
    const none = parseConfig("", "", ext());
    expect(resolveDbPath(undefined, undefined)).toBe(join(home, ".local", "share", "hoard", "hoard.db"));
    expect(resolveDbPath(undefined, none)).toBe(join(home, ".local", "share", "hoard", "hoard.db"));
    process.env.XDG_DATA_HOME = "/xdg/data";
    expect(resolveDbPath(undefined, none)).toBe("/xdg/data/hoard/hoard.db");
    expect(resolveDbPath(undefined, cfg)).toBe("/cfg/hoard.db");
    process.env.HOARD_DB = "/env/hoard.db";
    expect(resolveDbPath(undefined, cfg)).toBe("/env/hoard.db");
    expect(resolveDbPath("/flag/hoard.db", cfg)).toBe("/flag/hoard.db");
  });
});

const COMMENTED = `# hoard config — lots of comments, odd spacing and key order
#   indented comment with "quotes" and \\backslashes\\ and unicode: ✓ ü 写真

db   =   "/var/lib/hoard.db"   # trailing comment
node = "box"


# volumes below
[volumes.music]   # a comment after a header
sync_to = [
  "nas",   # first
]
path = '/srv/music'

[destinations.nas]
path = "/mnt/nas"
type = "fs"
# last line is a comment without a newline`;

describe("addVolumeToConfigText", () => {
  test("preserves a heavily commented file byte for byte and the result parses", () => {
    const out = addVolumeToConfigText(COMMENTED, "photos", '/home/me/My "Photos"');
    expect(out.startsWith(COMMENTED)).toBe(true);
    expect(out.slice(COMMENTED.length)).toBe('\n\n[volumes.photos]\npath = "/home/me/My \\"Photos\\""\n');
    const cfg = parseConfig(out, "/tmp/x.toml", ext());
    expect(cfg.volumes.photos!.path).toBe('/home/me/My "Photos"');
    expect(cfg.volumes.music!.path).toBe("/srv/music");
  });

  test("exactly one blank line before the new table; nothing added when one is there", () => {
    expect(addVolumeToConfigText("", "a", "/a")).toBe('[volumes.a]\npath = "/a"\n');
    expect(addVolumeToConfigText('node = "x"', "a", "/a")).toBe('node = "x"\n\n[volumes.a]\npath = "/a"\n');
    expect(addVolumeToConfigText('node = "x"\n', "a", "/a")).toBe('node = "x"\n\n[volumes.a]\npath = "/a"\n');
    expect(addVolumeToConfigText('node = "x"\n\n', "a", "/a")).toBe('node = "x"\n\n[volumes.a]\npath = "/a"\n');
    expect(addVolumeToConfigText('node = "x"\r\n', "a", "/a")).toBe('node = "x"\r\n\r\n[volumes.a]\r\npath = "/a"\r\n');
  });

  test("names with a dot are quoted", () => {
    const out = addVolumeToConfigText("", "my.photos", "/p");
    expect(out).toBe('[volumes."my.photos"]\npath = "/p"\n');
    expect(parseConfig(out, "/tmp/x.toml", ext()).volumes["my.photos"]!.path).toBe("/p");
  });

  test("refuses an existing volume, a bad name, a relative path, and text it cannot extend", () => {
    const kindOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as HoardError).kind, (e as HoardError).code];
      }
      return undefined;
    };
    expect(kindOf(() => addVolumeToConfigText(COMMENTED, "music", "/x"))).toEqual(["config", "volume_exists"]);
    expect(kindOf(() => addVolumeToConfigText(`volumes.music.path = "/m"\n`, "music", "/x"))).toEqual(["config", "volume_exists"]);
    expect(kindOf(() => addVolumeToConfigText("", "Bad", "/x"))).toEqual(["config", "volume_name_invalid"]);
    expect(kindOf(() => addVolumeToConfigText("", "ok", "rel/x"))).toEqual(["config", "volume_path_relative"]);
    expect(kindOf(() => addVolumeToConfigText("volumes = { a = { path = \"/a\" } }\n", "b", "/b"))).toEqual(["config", "config_edit_failed"]);
    expect(kindOf(() => addVolumeToConfigText("node = \n", "b", "/b"))).toEqual(["config", "config_syntax"]);
  });

  test("property: existing bytes never change and the path reads back identically", () => {
    const nameArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
    const segment = fc.string({ unit: fc.oneof(fc.constantFrom('"', "\\", "'", "\n", "\t", "\u0000", "\u007f", "#", "[", "]", "=", " "), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), minLength: 1 });
    const pathArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segs) => `/${segs.join("/")}`);
    const prefixArb = fc.constantFrom("", COMMENTED, 'node = "x"', "# only a comment\n", "\n\n\n", "[volumes.other]\npath = \"/o\"\n\n");
    fc.assert(
      fc.property(prefixArb, nameArb, pathArb, (prefix, name, path) => {
        fc.pre(!(prefix.includes("[volumes.other]") && name === "other") && !(prefix === COMMENTED && name === "music"));
        const out = addVolumeToConfigText(prefix, name, path);
        expect(out.startsWith(prefix)).toBe(true);
        const parsed = parseToml(out) as { volumes: Record<string, { path: string }> };
        expect(parsed.volumes[name]!.path).toBe(path);
      }),
      { numRuns: 300 },
    );
  });
});

describe("writeFileAtomic", () => {
  test("replaces the file, keeps its mode, leaves no temp file", () => {
    const dir = tmp();
    const file = join(dir, "config.toml");
    writeFileSync(file, "old");
    chmodSync(file, 0o600);
    writeFileAtomic(file, "new ✓");
    expect(readFileSync(file, "utf8")).toBe("new ✓");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["config.toml"]);
    writeFileAtomic(join(dir, "fresh.toml"), "x");
    expect(readFileSync(join(dir, "fresh.toml"), "utf8")).toBe("x");
  });
});

describe("starter config", () => {
  const fsOnly = (): ConfigExtensions => ({
    destinationTypes: new Map<string, v.GenericSchema>([["fs", v.strictObject({ path: v.string() })]]),
    destinationKeys: new Map(),
    rootKeys: new Map(),
  });

  test("parses with the fs type registered", () => {
    const text = starterConfig({ node: "my-box", db: '/home/me/.local/share/hoard/"odd".db' });
    const cfg = parseConfig(text, "/tmp/config.toml", fsOnly());
    expect(cfg.node).toBe("my-box");
    expect(cfg.db).toBe('/home/me/.local/share/hoard/"odd".db');
    expect(cfg.volumes).toEqual({});
  });

  test("its examples are valid when uncommented", () => {
    const text = starterConfig({ node: "my-box", db: "/db/hoard.db" });
    const uncommented = text
      .split("\n")
      .map((l) => (/^# (\[|[a-z_]+ = )/.test(l) ? l.slice(2) : l))
      .join("\n");
    const e = fsOnly();
    e.destinationTypes.set("rclone", v.looseObject({}));
    e.destinationTypes.set("kopia", v.looseObject({ password: secret() }));
    process.env.KOPIA_PASSWORD ??= "pw";
    const cfg = parseConfig(uncommented, "/tmp/config.toml", e);
    expect(cfg.volumes.photos).toMatchObject({ sync_to: ["nas"], offload_requires: ["nas"], hook: { timeout_ns: 600_000_000_000n } });
    expect(Object.keys(cfg.destinations).sort()).toEqual(["cloud", "nas", "vault"]);
    expect(cfg.plugins).toEqual(["/tmp/plugins/my-destination.ts"]);
  });
});

describe("durations", () => {
  test("parseDuration", () => {
    const s = 1_000_000_000n;
    expect(parseDuration("30d")).toBe(30n * 86_400n * s);
    expect(parseDuration("12h")).toBe(12n * 3600n * s);
    expect(parseDuration("90m")).toBe(90n * 60n * s);
    expect(parseDuration("45s")).toBe(45n * s);
    expect(parseDuration("2w")).toBe(14n * 86_400n * s);
    expect(parseDuration("1h30m")).toBe(5400n * s);
    expect(parseDuration("1w2d3h4m5s")).toBe((((9n * 24n + 3n) * 60n + 4n) * 60n + 5n) * s);
    expect(parseDuration("0s")).toBe(0n);
  });

  test("parseDuration rejects anything else", () => {
    for (const bad of ["", "30", "d", "1.5h", "-1h", "+1h", "1h 30m", " 1h", "1h ", "30m1h", "1h1h", "1H", "1ms", "1y", "1d2", "abc", "9999999999999999999999w"])
      expect(() => parseDuration(bad), bad).toThrow(Error);
  });

  test("formatDuration", () => {
    expect(formatDuration(parseDuration("3d4h"))).toBe("3d 4h");
    expect(formatDuration(parseDuration("3d4h5m"))).toBe("3d 4h");
    expect(formatDuration(parseDuration("12m"))).toBe("12m");
    expect(formatDuration(parseDuration("5s"))).toBe("5s");
    expect(formatDuration(parseDuration("1h30m"))).toBe("1h 30m");
    expect(formatDuration(parseDuration("2w"))).toBe("14d");
    expect(formatDuration(parseDuration("1d5m"))).toBe("1d");
    expect(formatDuration(0n)).toBe("0s");
    expect(formatDuration(250_000_000n)).toBe("250ms");
    expect(formatDuration(-5_000_000_000n)).toBe("-5s");
  });

  test("property: formatting a single-unit duration parses back to the same value", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 100_000n }), fc.constantFrom("d", "h", "m", "s"), (k, unit) => {
        const ns = parseDuration(`${k}${unit}`);
        const text = formatDuration(ns).replace(" ", "");
        expect(parseDuration(text)).toBeLessThanOrEqual(ns);
        expect(ns - parseDuration(text)).toBeLessThan(ns / 10n + 1n);
      }),
    );
  });
});
