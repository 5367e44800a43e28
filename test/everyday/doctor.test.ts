// `hoard doctor` prints human lines with a `next:` step for each destination that needs one (never raw
// JSON), tells a wiped destination from a missing tool or an uninitialised one, and keeps its --json shape.

import { afterAll, expect, test } from "bun:test";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { asyncFsWorld, cleanupWorlds, code } from "../e2e/lib.ts";
import { diagnose } from "../../src/ops/doctor.ts";

afterAll(cleanupWorlds);

test.concurrent("all well: one line per destination with its facts, no next step, a summary, exit 0", async () => {
  const w = await asyncFsWorld();
  const r = code(await w.hoardAsync("doctor"), 0);
  expect(r.stdout).toContain("nas (fs): ok; methods blake3; identity ");
  expect(r.stdout).toContain(`path ${w.path("nas")}`);
  expect(r.stdout).toContain("used by photos");
  expect(r.stdout).toContain("doctor: 1 destinations checked, no problem found");
  expect(r.stdout).not.toContain("next:");
  expect(r.stdout).not.toMatch(/[{}"]/); // not JSON
});

test.concurrent("not initialised, wiped and unusable destinations each get their own next: step; exit 1", async () => {
  const w = await asyncFsWorld({ extraDests: ["usb", "fresh"], destInit: false });
  code(await w.hoardAsync("dest", "init", "nas"), 0);
  code(await w.hoardAsync("dest", "init", "usb"), 0);
  rmSync(w.path("usb"), { recursive: true, force: true }); // wiped
  writeFileSync(w.path("usb"), "not a directory"); // …and replaced by a file
  rmSync(w.path("nas/.hoard-destination"), { force: true, recursive: true });
  const r = code(await w.hoardAsync("doctor"), 1);
  const block = (name: string) => r.stdout.split("\n").reduce<string[]>((acc, l) => (l.startsWith(`${name} (`) ? [l] : acc.length && l.startsWith("  ") ? [...acc, l] : acc.length ? acc : []), []).join("\n");
  expect(block("fresh")).toContain("fresh (fs): UNREACHABLE"); // its directory does not exist yet
  expect(block("fresh")).toContain("next: `hoard dest init fresh` if it is new");
  expect(block("nas")).toContain("nas (fs): IDENTITY GONE");
  expect(block("nas")).toContain("next: nas shows no identity where");
  expect(block("nas")).toContain("`hoard dest reset nas --yes`");
  expect(block("usb")).toMatch(/usb \(fs\): (UNREACHABLE|ERROR)/);
  expect(r.stdout).toContain("doctor: 3 of 3 destinations need attention");
  expect(r.stdout).not.toMatch(/^\s*\{/m);
  for (const n of ["nas", "usb", "fresh"]) expect(block(n)).toContain("  next: ");
  const j = code(await w.hoardAsync("doctor", "--json"), 1).json;
  const byName = Object.fromEntries(j.destinations.map((d: any) => [d.name, d]));
  expect(byName.fresh).toMatchObject({ type: "fs", pinned: null, state: "unreachable", used_by: ["photos"], methods: ["blake3"] });
  expect(byName.fresh.identity_error).toContain("does not exist");
  expect(byName.nas).toMatchObject({ state: "wiped", identity: null });
  expect(byName.nas.pinned).toMatch(/./);
  expect(j.problems).toBe(3);
  expect(Array.isArray(j.warnings)).toBe(true);
});

test.concurrent("a wiped destination (marker gone) says dest reset, not credentials", async () => {
  const w = await asyncFsWorld();
  const before = code(await w.hoardAsync("doctor", "--json"), 0).json.destinations[0];
  expect(before).toMatchObject({ name: "nas", state: "ok", next: null });
  expect(before.identity).toBe(before.pinned);
  rmSync(w.path("nas"), { recursive: true, force: true });
  const r = await w.hoardAsync("doctor");
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("nas (fs): ");
  expect(r.stdout).toContain("next: ");
  const j = (await w.hoardAsync("doctor", "--json")).json.destinations[0];
  if (j.state === "wiped") expect(j.next).toContain(`hoard dest reset nas --yes`);
  else expect(j.state).toMatch(/unreachable|error/);
  expect(j.next).not.toMatch(/credential/i);
});

test.concurrent("a config readable by others holding a literal secret: a warning line with a next step", async () => {
  const w = await asyncFsWorld();
  writeFileSync(w.config, w.read("config.toml") + `\n[destinations.vault]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = "hunter2-literal"\n`);
  chmodSync(w.config, 0o644);
  const r = await w.hoardAsync("doctor");
  expect(r.stdout).toContain(`warning: config file ${w.config} holds a literal secret`);
  expect(r.stdout).toContain("next: chmod 600 the file");
  expect(r.stdout).toContain("vault (kopia): ");
  expect(r.stdout + r.stderr).not.toContain("hunter2-literal");
});

test("diagnose: each finding maps to one state and one next step", () => {
  const base = { pinned: "id-1", usedBy: ["photos"] };
  expect(diagnose("nas", { ...base, identity: "id-1" })).toEqual({ state: "ok", next: null });
  expect(diagnose("nas", { ...base, identity: "id-1", usedBy: [] }).next).toContain("no volume uses nas");
  expect(diagnose("nas", { ...base, identity: null })).toMatchObject({ state: "wiped" });
  expect(diagnose("nas", { ...base, identity: null }).next).toContain("hoard dest reset nas --yes");
  expect(diagnose("nas", { ...base, identity: "id-2" })).toMatchObject({ state: "identity_changed" });
  expect(diagnose("nas", { ...base, pinned: null, identity: "id-2" })).toMatchObject({ state: "adoptable" });
  expect(diagnose("nas", { ...base, pinned: null, identity: "id-2" }).next).toContain("hoard dest adopt nas");
  expect(diagnose("nas", { ...base, pinned: null, identity: null }).next).toContain("hoard dest init nas");
  expect(diagnose("nas", { ...base, identityError: "timeout", identityHint: "start the server" })).toEqual({ state: "unreachable", next: "start the server" });
  expect(diagnose("nas", { ...base, error: "rclone: not found", identityError: "x" })).toMatchObject({ state: "error" });
});
