// Loading third-party plugins from the config's `plugins` list: relative paths, order, and a clear
// exit-2 error naming the file for every way a plugin can be broken.

import { afterAll, describe, expect, test } from "bun:test";
import { world, type World } from "../helpers.ts";

const w: World = world();
afterAll(() => w.cleanup());

/** Write plugin files into the world and point its config at them (relative to the config). */
function withPlugins(files: Record<string, string>, list = Object.keys(files)) {
  for (const [name, src] of Object.entries(files)) w.write(`plugins/${name}`, src);
  w.setConfig(`node = "n"\nplugins = ${JSON.stringify(list.map((n) => `./plugins/${n}`))}\n`);
}
const ok = (name: string, body = "") => `export default { name: ${JSON.stringify(name)}, apiVersion: 1, setup(api: any) { ${body} } };\n`;

describe("third-party plugins", () => {
  test("load in order after the built-ins; relative paths resolve from the config's directory", () => {
    withPlugins({ "b.ts": ok("bee", `api.policy({ name: "bee-policy", description: "b" });`), "a.ts": ok("ay", `api.on("run:begin", () => {});`) }, ["b.ts", "a.ts"]);
    const r = w.hoard("plugins", "--json");
    expect(r.code).toBe(0);
    const mine = r.json.plugins.filter((p: any) => p.source !== "builtin");
    expect(mine.map((p: any) => p.name)).toEqual(["bee", "ay"]);
    expect(mine[0].source).toBe(w.path("plugins/b.ts"));
    expect(mine[0].policies).toEqual(["bee-policy"]);
    expect(mine[1].hooks).toEqual(["run:begin"]);
    expect(r.json.plugins.findIndex((p: any) => p.source !== "builtin")).toBe(r.json.plugins.length - 2);
  });

  const broken: [string, string | null, string, RegExp][] = [
    ["missing file", null, "plugin_missing", /plugin file .*missing\.ts does not exist/],
    ["no default export", `export const plugin = { name: "x", apiVersion: 1, setup() {} };\n`, "plugin_no_default", /has no default export \(it exports plugin\)/],
    ["default is not a plugin", `export default 42;\n`, "plugin_invalid", /does not export a plugin/],
    ["wrong apiVersion", `export default { name: "x", apiVersion: 99, setup() {} };\n`, "plugin_api_version", /wants plugin API version 99; this hoard provides 1/],
    ["no apiVersion", `export default { name: "x", setup() {} };\n`, "plugin_api_version", /does not declare apiVersion/],
    ["throw inside setup", ok("x", `throw new Error("boom");`), "plugin_setup", /plugin x \(.*\) failed in setup: boom/],
    ["async setup", `export default { name: "x", apiVersion: 1, async setup() { throw new Error("late"); } };\n`, "plugin_setup_async", /setup returned a promise/],
    ["registration refused inside setup", ok("x", `api.destination({ name: "fs", schema: api.v.object({}), open() {} });`), "destination_type_duplicate", /destination type fs is already registered .*in setup of plugin x/],
    ["name of a built-in", ok("fs"), "plugin_duplicate", /plugin name fs .* is already registered by a built-in plugin/],
    ["syntax error", `export default { name: "x", apiVersion: 1, setup() {\n`, "plugin_load", /failed to load/],
    ["top-level throw", `throw new Error("top boom");\n`, "plugin_load", /failed to load: top boom/],
    ["npm import", `import pad from "left-pad-that-is-not-installed";\nexport default { name: "x", apiVersion: 1, setup() { pad; } };\n`, "plugin_load", /failed to load/],
  ];
  for (const [what, src, code, msg] of broken)
    test(`${what}: exit 2, error ${code} naming the file`, () => {
      const file = `${code}-${what.replace(/\W+/g, "-")}.ts`;
      if (src === null) w.setConfig(`node = "n"\nplugins = ["./plugins/missing.ts"]\n`);
      else withPlugins({ [file]: src });
      const r = w.hoard("status", "--json");
      expect(r.code).toBe(2);
      expect(r.json.ok).toBe(false);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.exit_code).toBe(2);
      expect(r.json.error.message).toMatch(msg);
      expect(r.json.error.message).toContain(src === null ? w.path("plugins/missing.ts") : w.path(`plugins/${file}`));
      expect(r.stderr).toContain("error:");
      if (code !== "destination_type_duplicate") expect(r.json.error.hint).toBeTruthy();
      if (what === "npm import") expect(r.json.error.hint).toContain("cannot import npm packages");
    });

  test("the same file listed twice is a duplicate, naming the first", () => {
    withPlugins({ "one.ts": ok("one") }, ["one.ts", "one.ts"]);
    const r = w.hoard("plugins", "--json");
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("plugin_duplicate");
    expect(r.json.error.message).toContain(`already registered by ${w.path("plugins/one.ts")}`);
  });

  test("a listener that throws fails the run (exit 1) naming the plugin and hook", () => {
    withPlugins({ "bad.ts": ok("bad-listener", `api.on("run:begin", () => { throw new Error("listener boom"); });`) });
    w.write("vol/a.txt", "a\n");
    w.setConfig(`node = "n"\nplugins = ["./plugins/bad.ts"]\n[volumes.v]\npath = ${JSON.stringify(w.path("vol"))}\n`);
    expect(w.hoard("volume", "add", "v", w.path("vol")).code).toBe(0);
    const r = w.hoard("index", "v", "--json");
    expect(r.code).toBe(1);
    expect(r.json.error.message).toContain("plugin bad-listener failed in run:begin: listener boom");
  });
});
