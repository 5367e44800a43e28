// No hand-editing: `dest add`, `volume add --sync-to/--require` and `volume rm` edit the config with
// every other byte kept, validate the whole result first (nothing written when invalid), and a volume
// that leaves the config with offloaded files stays in `status` (and `status --check` exits 4).

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parse } from "smol-toml";
import { world, type World } from "../helpers.ts";
import { code, row, rows, syncedWorld, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
const made: World[] = [];
afterAll(() => {
  for (const w of made) w.cleanup();
  cleanupWorlds();
});

const COMMENTED = `# my hoard config
node = "n1"   # this laptop

# --- volumes ---

# --- destinations (added by hand once) ---
[destinations.usb]
type = "fs"
path = "/mnt/usb/hoard" # the blue disk
`;

function commentedWorld(): World {
  const w = world();
  made.push(w);
  w.setConfig(COMMENTED);
  mkdirSync(w.path("vol/2019"), { recursive: true });
  w.write("vol/2019/a.jpg", "a\n");
  return w;
}

describe("hoard dest add", () => {
  test.concurrent("appends [destinations.NAME] with typed values, every existing byte kept", async () => {
    const w = commentedWorld();
    const r = code(await w.hoardAsync("dest", "add", "nas", "--type", "fs", `path=${w.path("nas")}`, "trusted=true", "offload_confirm=content", "--json"), 0);
    expect(r.json).toEqual({ destination: "nas", type: "fs", config: w.config, keys: ["path", "trusted", "offload_confirm"] });
    const text = readFileSync(w.config, "utf8");
    expect(text.startsWith(COMMENTED)).toBe(true);
    expect(text.slice(COMMENTED.length)).toBe(`\n[destinations.nas]\ntype = "fs"\npath = ${JSON.stringify(w.path("nas"))}\ntrusted = true\noffload_confirm = "content"\n`);
    // the result is a config hoard loads: the destination can be initialised and listed
    code(await w.hoardAsync("dest", "init", "nas"), 0);
    expect(code(await w.hoardAsync("dests", "--json"), 0).json.destinations.map((d: any) => d.name).sort()).toEqual(["nas", "usb"]);
    // an rclone remote and an inline { env = … } secret table
    code(await w.hoardAsync("dest", "add", "cloud", "--type", "rclone", "remote=b2:bucket/hoard", "verify=download"), 0);
    const cfg = parse(readFileSync(w.config, "utf8")) as any;
    expect(cfg.destinations.cloud).toEqual({ type: "rclone", remote: "b2:bucket/hoard", verify: "download" });
  });

  test.concurrent("an invalid result writes nothing, exit 2: bad type, relative path, unknown key, wrong value, overlap, duplicate, malformed words", async () => {
    const w = commentedWorld();
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol")), 0);
    const before = readFileSync(w.config, "utf8");
    const cases: [string[], string][] = [
      [["nas", "--type", "floppy", `path=${w.path("nas")}`], "unknown"],
      [["nas", "--type", "fs", "path=relative/dir"], "absolute"],
      [["nas", "--type", "fs", `path=${w.path("nas")}`, "colour=blue"], "colour"],
      [["nas", "--type", "fs", `path=${w.path("nas")}`, "trusted=maybe"], "trusted"],
      [["nas", "--type", "fs", `path=${w.path("vol/inside")}`], "inside"],
      [["usb", "--type", "fs", `path=${w.path("nas")}`], "already exists"],
      [["nas", "--type", "fs", "pathnoequals"], "KEY=VALUE"],
      [["nas", "--type", "fs", `path=${w.path("nas")}`, `path=${w.path("nas2")}`], "twice"],
      [["nas", `path=${w.path("nas")}`], "--type"],
      [["NAS!", "--type", "fs", `path=${w.path("nas")}`], "invalid name"],
    ];
    for (const [args, words] of cases) {
      const r = await w.hoardAsync("dest", "add", ...args);
      expect({ args, code: r.code, says: r.stderr.includes(words) }).toEqual({ args, code: 2, says: true });
      expect(readFileSync(w.config, "utf8")).toBe(before);
    }
    expect(existsSync(w.path("nas"))).toBe(false);
    // without a config: run hoard init first
    const bare = world();
    made.push(bare);
    const r = code(await bare.hoardAsync("dest", "add", "nas", "--type", "fs", `path=${bare.path("nas")}`), 2);
    expect(r.stderr).toContain("hoard init");
    expect(existsSync(bare.config)).toBe(false);
  });
});

describe("hoard volume add --sync-to --require", () => {
  test.concurrent("writes sync_to and offload_requires; --require alone syncs to the required ones", async () => {
    const w = commentedWorld();
    code(await w.hoardAsync("dest", "add", "nas", "--type", "fs", `path=${w.path("nas")}`), 0);
    code(await w.hoardAsync("dest", "add", "cloud", "--type", "fs", `path=${w.path("cloud")}`), 0);
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--sync-to", "nas,cloud", "--require", "nas"), 0);
    mkdirSync(w.path("vol2"));
    code(await w.hoardAsync("volume", "add", "music", w.path("vol2"), "--require", "cloud"), 0);
    const text = readFileSync(w.config, "utf8");
    expect(text.startsWith(COMMENTED)).toBe(true);
    const cfg = parse(text) as any;
    expect(cfg.volumes.photos).toEqual({ path: w.path("vol"), sync_to: ["nas", "cloud"], offload_requires: ["nas"] });
    expect(cfg.volumes.music).toEqual({ path: w.path("vol2"), sync_to: ["cloud"], offload_requires: ["cloud"] });
    // the same again: nothing to do; different lists for a declared volume: refused, nothing changed
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--sync-to", "nas,cloud", "--require", "nas"), 0);
    const r = code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "cloud", "--json"), 3);
    expect(r.json.error.code).toBe("volume_declared_differently");
    expect(readFileSync(w.config, "utf8")).toBe(text);
  });

  test.concurrent("an unknown destination, or a nested volume, is refused before anything is written (exit 2)", async () => {
    const w = commentedWorld();
    code(await w.hoardAsync("dest", "add", "nas", "--type", "fs", `path=${w.path("nas")}`), 0);
    const before = readFileSync(w.config, "utf8");
    const r = code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nsa"), 2);
    expect(r.stderr).toContain('unknown destination "nsa"');
    expect(readFileSync(w.config, "utf8")).toBe(before);
    expect(existsSync(w.path("vol/.hoard-volume"))).toBe(false);
    expect(existsSync(w.db)).toBe(false);
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nas"), 0);
    const mid = readFileSync(w.config, "utf8");
    for (const flags of [[], ["--require", "nas"]]) {
      const n = code(await w.hoardAsync("volume", "add", "y2019", w.path("vol/2019"), ...flags), 2);
      expect(n.stderr).toContain("inside");
      expect(readFileSync(w.config, "utf8")).toBe(mid);
      expect(existsSync(w.path("vol/2019/.hoard-volume"))).toBe(false);
    }
  });
});

describe("hoard volume rm", () => {
  test.concurrent("without offloaded files: the table goes, comments and other tables stay, the DB keeps its rows", async () => {
    const w = commentedWorld();
    code(await w.hoardAsync("dest", "add", "nas", "--type", "fs", `path=${w.path("nas")}`), 0);
    const withoutVolume = readFileSync(w.config, "utf8");
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nas"), 0);
    code(await w.hoardAsync("index", "photos"), 0);
    const r = code(await w.hoardAsync("volume", "rm", "photos", "--json"), 0);
    expect(r.json).toMatchObject({ volume: "photos", offloaded: { files: 0 }, forgotten: false });
    expect(readFileSync(w.config, "utf8")).toBe(withoutVolume);
    expect(rows(w, "SELECT name FROM volumes")).toEqual([{ name: "photos" }]);
    expect(rows(w, "SELECT path FROM files WHERE volume = 'photos'")).toEqual([{ path: "2019/a.jpg" }]);
    // nothing offloaded: status does not report it any more, --check is green
    const st = code(await w.hoardAsync("status", "--check", "--json"), 0);
    expect(st.json.removed_volumes).toEqual([]);
    code(await w.hoardAsync("volume", "rm", "photos"), 2); // not in the config any more
  });

  test.concurrent("with offloaded files: refused (exit 3) and nothing changed; --forget is not --forget-offloaded; then status keeps reporting it", async () => {
    const w = await syncedWorld();
    code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
    const before = readFileSync(w.config, "utf8");
    const no = code(await w.hoardAsync("volume", "rm", "photos", "--json"), 3);
    expect(no.json.error.code).toBe("volume_has_offloaded");
    expect(no.json.error.hint).toContain("--forget-offloaded");
    expect(readFileSync(w.config, "utf8")).toBe(before);
    for (const short of ["--forget", "--forget-offload", "-f"]) {
      expect(code(await w.hoardAsync("volume", "rm", "photos", short), 2).stderr).toContain("unknown option");
      expect(readFileSync(w.config, "utf8")).toBe(before);
    }
    const ok = code(await w.hoardAsync("volume", "rm", "photos", "--forget-offloaded", "--json"), 0);
    expect(ok.json).toMatchObject({ volume: "photos", offloaded: { files: 1, bytes: 6 }, forgotten: true });
    expect((parse(readFileSync(w.config, "utf8")) as any).volumes).toBeUndefined();
    expect(row(w, "SELECT status FROM files WHERE volume = 'photos' AND path = 'a.txt' AND status <> 'superseded'")).toEqual({ status: "offloaded" });

    const st = code(await w.hoardAsync("status", "--json"), 0);
    expect(st.json.removed_volumes).toEqual([expect.objectContaining({ volume: "photos", in_config: false, offloaded: { files: 1, bytes: 6 } })]);
    const check = code(await w.hoardAsync("status", "--check", "--json"), 4);
    expect(check.json.problems).toEqual([expect.objectContaining({ volume: "photos", code: "volume_not_in_config" })]);
    const human = code(await w.hoardAsync("status", "--check"), 4);
    expect(human.stdout).toContain("NOT IN THE CONFIG");
    expect(human.stdout).toContain("hoard volume add photos");
    // adding it back (same path, marker and DB row) and restoring makes it green again
    code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nas"), 0);
    code(await w.hoardAsync("restore", "photos"), 0);
    expect(readFileSync(w.path("vol/a.txt"), "utf8")).toBe("alpha\n");
    code(await w.hoardAsync("status", "--check"), 0);
  });

  test.concurrent("a volume removed from the config by hand while files are offloaded is still reported", async () => {
    const w = await syncedWorld();
    code(await w.hoardAsync("offload", "photos", "dir"), 0);
    const text = readFileSync(w.config, "utf8");
    writeFileSync(w.config, text.replace(/\[volumes\.photos\][\s\S]*?\n\n/, ""));
    expect((parse(readFileSync(w.config, "utf8")) as any).volumes).toBeUndefined();
    const st = code(await w.hoardAsync("status", "--check", "--json"), 4);
    expect(st.json.removed_volumes[0]).toMatchObject({ volume: "photos", offloaded: { files: 2 } });
    expect(code(await w.hoardAsync("status", "photos", "--json"), 0).json.removed_volumes).toHaveLength(1);
  });
});
