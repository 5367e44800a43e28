// Hook listeners return their decision: the registry collects well-formed ones in plugin order and
// fails the run, naming the plugin, on anything else (a malformed refusal is never read as consent).

import { expect, test } from "bun:test";
import { Registry } from "../../src/kernel/registry.ts";
import type { Plugin } from "../../src/kernel/plugin.ts";
import { HoardError } from "../../src/kernel/errors.ts";

const component = { volume: "v", destination: "d", originNode: "n", originRun: 1n, method: "blake3", verifiedAt: 1n, confirmedRun: null, epoch: 1n };
const gate = { volume: "v", destination: "d", table: {}, config: {}, component, now: 2n };

function registry(...plugins: Plugin[]): Registry {
  const reg = new Registry();
  for (const p of plugins) reg.register(p, `/plugins/${p.name}.ts`);
  return reg;
}

test("decisions come back in plugin order; returning nothing is no decision", async () => {
  const reg = registry(
    { name: "a", apiVersion: 1, setup: (api) => api.on("gate:check", () => ({ refuse: "too old", hint: "verify" })) },
    { name: "b", apiVersion: 1, setup: (api) => api.on("gate:check", () => undefined) },
    { name: "c", apiVersion: 1, setup: (api) => api.on("gate:check", async () => ({ refuse: "wrong method" })) },
  );
  expect(await reg.emit("gate:check", gate)).toEqual([
    { plugin: "a", decision: { refuse: "too old", hint: "verify" } },
    { plugin: "c", decision: { refuse: "wrong method" } },
  ]);
  const none = registry({ name: "quiet", apiVersion: 1, setup: (api) => api.on("gate:check", () => {}) });
  expect(await none.emit("gate:check", gate)).toEqual([]);
});

test("expiry and rejection decisions", async () => {
  const reg = registry(
    { name: "ex", apiVersion: 1, setup: (api) => api.on("evidence:expiry", (p) => ({ expiresAt: p.now + 5n, why: "max age" })) },
    { name: "rj", apiVersion: 1, setup: (api) => api.on("evidence:advance", (p) => (p.method === "size" ? { reject: "size only" } : undefined)) },
  );
  expect(await reg.emit("evidence:expiry", gate)).toEqual([{ plugin: "ex", decision: { expiresAt: 7n, why: "max age" } }]);
  const adv = { volume: "v", destination: "d", type: "fs", originNode: "n" };
  expect(await reg.emit("evidence:advance", { ...adv, method: "blake3" })).toEqual([]);
  expect(await reg.emit("evidence:advance", { ...adv, method: "size" })).toEqual([{ plugin: "rj", decision: { reject: "size only" } }]);
});

// a plugin written in plain JavaScript (or cast) can return anything: each bad shape is a failure
const bad: [string, string, unknown][] = [
  ["gate:check", "refuse is not text", { refuse: 1 }],
  ["gate:check", "empty reason", { refuse: "" }],
  ["gate:check", "another hook's decision", { reject: "no" }],
  ["gate:check", "a boolean", false],
  ["gate:check", "hint not text", { refuse: "x", hint: 3 }],
  ["evidence:expiry", "a number time", { expiresAt: 5, why: "w" }],
  ["evidence:expiry", "no why", { expiresAt: 5n }],
  ["run:begin", "a decision on an observing hook", { refuse: "x" }],
];
for (const [hook, what, value] of bad)
  test(`a malformed ${hook} decision fails naming the plugin: ${what}`, async () => {
    const reg = registry({ name: "sloppy", apiVersion: 1, setup: (api) => api.on(hook as any, (() => value) as any) });
    const payload = hook === "run:begin" ? { run: { id: 1n, kind: "sync", volume: "v", destination: "d" } } : gate;
    const err = await reg.emit(hook as any, payload as any).catch((e) => e);
    expect(err).toBeInstanceOf(HoardError);
    expect(err.code).toBe("plugin_decision");
    expect(err.kind).toBe("failure");
    expect(err.message).toContain("plugin sloppy");
    expect(err.message).toContain(hook);
  });

test("configKey returns a typed accessor of the validated value", () => {
  let got: unknown = "unset";
  registry({
    name: "keys",
    apiVersion: 1,
    setup(api) {
      const k = api.configKey("destination", "max_copies", api.v.optional(api.v.number()));
      const n: number | undefined = k.get({ max_copies: 3 }); // typed from the schema
      got = [k.key, n, k.get({})];
    },
  });
  expect(got).toEqual(["max_copies", 3, undefined]);
});

test("a listener still calling the old payload mutator (p.refuse) fails loudly, with what changed", async () => {
  const reg = registry({ name: "legacy", apiVersion: 1, setup: (api) => api.on("gate:check", (p: any) => void p.refuse("too old")) });
  const err = await reg.emit("gate:check", gate).catch((e) => e);
  expect(err).toBeInstanceOf(HoardError);
  expect(err.code).toBe("plugin_listener");
  expect(err.message).toContain("plugin legacy failed in gate:check");
  expect(err.hint).toContain("return their decision");
});

test("kopia's sync:preflight refuses to guess: capabilities naming no kopia config file it opened fail the run", async () => {
  const reg = registry((await import("../../plugins/kopia/index.ts")).default);
  const run = { id: 1n, kind: "sync", volume: "v", destination: "k" };
  const payload = { run, volume: "v", destination: "k", type: "kopia", options: {}, table: {}, capabilities: { methods: ["blake3"], warnings: [], facts: { config_file: "/nowhere/repository.config" } } };
  const err = await reg.emit("sync:preflight", payload).catch((e) => e);
  expect(err?.message).toContain("the kopia plugin did not open this destination");
  // another type is not kopia's business
  expect(await reg.emit("sync:preflight", { ...payload, type: "fs" })).toEqual([]);
});
