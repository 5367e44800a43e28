// The example third-party plugin examples/require-method, loaded from disk by the real CLI: its
// config key, its sync:preflight refusal (exit 3) and its gate:check refusal at offload.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fsWorld, ROOT, type World } from "../helpers.ts";
import { required, violation } from "../../examples/require-method/index.ts";

const PLUGIN = join(ROOT, "examples/require-method/index.ts");
const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

/** An fs world whose config loads the example plugin; `nasExtra` is appended to [destinations.nas]. */
function pluginWorld(nasExtra = ""): World {
  const w = fsWorld();
  worlds.push(w);
  setPlugin(w, nasExtra);
  return w;
}
function setPlugin(w: World, nasExtra: string) {
  let text = readFileSync(w.config, "utf8").replace(/^plugins = .*\n/m, "").replace(/^require_method = .*\n/m, "");
  text = text.replace(/^node = .*\n/m, (m) => `${m}plugins = [${JSON.stringify(PLUGIN)}]\n`);
  if (nasExtra) text = text.replace(/(\[destinations\.nas\]\n(?:.+\n)*)/, `$1${nasExtra}\n`);
  writeFileSync(w.config, text);
}

describe("require-method (pure parts)", () => {
  test("required(): an empty or absent list means no requirement", () => {
    expect(required(["sha256"])).toEqual(["sha256"]);
    expect(required([])).toBeNull();
    expect(required(undefined)).toBeNull();
  });
  test("violation(): every method of a mixed component must be allowed", () => {
    expect(violation({ method: "blake3" }, ["blake3", "sha256"])).toBeNull();
    expect(violation({ method: "blake3+sha256" }, ["blake3", "sha256"])).toBeNull();
    expect(violation({ method: "blake3+md5" }, ["blake3", "sha256"])).toContain("verified by md5");
    expect(violation({ method: "" }, ["blake3"])).toContain("no verification method");
  });
});

describe("require-method loaded from disk", () => {
  test("hoard plugins lists it after the built-ins, with its hooks and config key", () => {
    const w = pluginWorld();
    const r = w.hoard("plugins", "--json");
    expect(r.code).toBe(0);
    const names = r.json.plugins.map((p: any) => p.name);
    expect(names.at(-1)).toBe("require-method");
    expect(names.slice(0, 2)).toEqual(["fs", "content-hash"]);
    const p = r.json.plugins.at(-1);
    expect(p.source).toBe(PLUGIN);
    expect(p.hooks).toEqual(["sync:preflight", "gate:check"]);
    expect(p.config_keys).toEqual(["destinations.*.require_method"]);
    expect(p.policies).toEqual(["require-method"]);
  });

  test("its key is validated with the plugin's schema (exit 2), and unknown without the plugin", () => {
    const w = pluginWorld('require_method = "blake3"');
    const r = w.hoard("status", "--json");
    expect(r.code).toBe(2);
    expect(r.json.error.kind).toBe("config");
    expect(r.stderr).toContain("require_method");
    const bad = pluginWorld('require_method = ["BLAKE 3"]');
    expect(bad.hoard("status").code).toBe(2);
    // without the plugin the key is unknown: the config is rejected too
    const text = readFileSync(w.config, "utf8").replace(/^plugins = .*\n/m, "").replace('require_method = "blake3"', 'require_method = ["blake3"]');
    writeFileSync(w.config, text);
    const r2 = w.hoard("status");
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("require_method");
  });

  test("a destination that cannot verify by a required method is refused before any transfer (exit 3)", () => {
    const w = pluginWorld('require_method = ["sha256"]');
    expect(w.hoard("index", "photos").code).toBe(0);
    const r = w.hoard("sync", "photos", "--json");
    expect(r.code).toBe(3);
    expect(r.json.ok).toBe(false);
    expect(r.json.error.code).toBe("preflight_refused");
    expect(r.json.error.message).toContain("can verify by blake3, but its require_method requires sha256");
    expect(existsSync(w.path("nas/photos/a.txt"))).toBe(false);
  });

  test("evidence by an allowed method lets offload proceed", () => {
    const w = pluginWorld('require_method = ["sha256", "blake3"]');
    expect(w.hoard("index", "photos").code).toBe(0);
    expect(w.hoard("sync", "photos").code).toBe(0);
    const r = w.hoard("offload", "photos", ".", "--json");
    expect(r.code).toBe(0);
    expect(r.json.counts.offloaded).toBe(3);
    expect(existsSync(w.path("vol/a.txt"))).toBe(false);
  });

  test("evidence by another method is refused at the gate: files are kept, with the plugin's reason", () => {
    const w = pluginWorld();
    expect(w.hoard("index", "photos").code).toBe(0);
    expect(w.hoard("sync", "photos").code).toBe(0); // blake3 evidence, no requirement yet
    setPlugin(w, 'require_method = ["sha256"]');
    const dry = w.hoard("offload", "photos", ".", "--dry-run", "--json");
    expect(dry.code).toBe(0);
    expect(dry.json.counts.offloadable).toBe(0);
    const r = w.hoard("offload", "photos", ".", "--json");
    expect(r.code).toBe(0); // keeping a file the gate refuses is a decision, not an error
    expect(r.json.counts.offloaded).toBe(0);
    expect(r.json.counts.refused).toBe(3);
    expect(r.json.refusals).toHaveLength(1);
    expect(r.json.refusals[0]).toMatchObject({ destination: "nas", code: "policy", files: 3 });
    expect(r.json.refusals[0].reason).toContain("require_method: evidence at nas verified by blake3");
    expect(r.json.refusals[0].hint).toContain("hoard verify nas photos");
    expect(readFileSync(w.path("vol/a.txt"), "utf8")).toBe("alpha\n");
    // lifting the requirement lets the same evidence through
    setPlugin(w, "");
    expect(w.hoard("offload", "photos", "a.txt", "--json").json.counts.offloaded).toBe(1);
  });
});
