// The plugin registry: listeners run in plugin order, built-ins register like third-party plugins,
// and a refusal raised inside a listener keeps its kind (exit 3) with the plugin's name added.

import { expect, test } from "bun:test";
import { Registry } from "../../src/kernel/registry.ts";
import type { Plugin } from "../../src/kernel/plugin.ts";
import { HoardError } from "../../src/kernel/errors.ts";

test("listeners run in plugin registration order, each plugin's own listeners in order", async () => {
  const reg = new Registry();
  const calls: string[] = [];
  for (const name of ["first", "second", "third"])
    reg.register({
      name,
      apiVersion: 1,
      setup(api) {
        api.on("run:begin", () => void calls.push(`${name}.a`));
        api.on("run:begin", () => void calls.push(`${name}.b`));
      },
    } satisfies Plugin);
  await reg.emit("run:begin", { run: { id: 1n, kind: "index", volume: "v", destination: null } });
  expect(calls).toEqual(["first.a", "first.b", "second.a", "second.b", "third.a", "third.b"]);
  expect(reg.plugins.map((p) => [p.name, p.hooks])).toEqual([
    ["first", ["run:begin"]],
    ["second", ["run:begin"]],
    ["third", ["run:begin"]],
  ]);
});

test("a refusal thrown by a listener stays a refusal and names the plugin; later listeners do not run", async () => {
  const reg = new Registry();
  let after = false;
  reg.register({ name: "gatekeeper", apiVersion: 1, setup: (api) => api.on("run:begin", () => { throw api.util.errors.refused("nope", "not today", "try tomorrow"); }) } satisfies Plugin);
  reg.register({ name: "later", apiVersion: 1, setup: (api) => api.on("run:begin", () => void (after = true)) } satisfies Plugin);
  const err = await reg.emit("run:begin", { run: { id: 1n, kind: "sync", volume: "v", destination: "d" } }).catch((e) => e);
  expect(err).toBeInstanceOf(HoardError);
  expect(err.exitCode).toBe(3);
  expect(err.message).toContain("plugin gatekeeper");
  expect(err.hint).toBe("try tomorrow");
  expect(after).toBe(false);
});

test("a destination type registered twice is refused naming the first owner", () => {
  const reg = new Registry();
  const dt = (api: any) => api.destination({ name: "dup", schema: api.v.strictObject({}), open: () => ({}) as any });
  reg.register({ name: "one", apiVersion: 1, setup: dt } satisfies Plugin);
  expect(() => reg.register({ name: "two", apiVersion: 1, setup: dt } satisfies Plugin)).toThrow(/already registered by one/);
});
