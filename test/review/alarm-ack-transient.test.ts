// Review: an alarm raised because a destination could not be asked at all (its handler threw: a
// network error, a disk busy) says nothing about the file; acknowledging it must not give up a file
// whose latest check at that very destination held.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

test("alarm ack is refused while the alarm's own destination still holds the file (its latest check held)", () => {
  const w = world();
  worlds.push(w);
  // the example destination, whose push fails as a whole (throws) when REVIEW_PUSH_FAILS is set
  const src = readFileSync(join(ROOT, "examples/dir-destination/index.ts"), "utf8");
  const bad = src.replace("    async push(manifest, ctx) {\n", '    async push(manifest, ctx) {\n      if (process.env.REVIEW_PUSH_FAILS) throw new Error("connection reset");\n');
  expect(bad).not.toBe(src);
  const plugin = w.path("flaky-dir.ts");
  writeFileSync(plugin, bad);
  mkdirSync(w.path("vol"), { recursive: true });
  mkdirSync(w.path("usb"));
  w.write("vol/a.txt", "alpha\n");
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(plugin)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(0);
  expect(w.hoard("offload", "photos", ".", "--json").json.counts.offloaded).toBe(1);
  w.env.REVIEW_PUSH_FAILS = "1";
  w.hoard("sync", "photos", "--json");
  delete w.env.REVIEW_PUSH_FAILS;
  const alarms = w.hoard("alarms", "--json").json;
  const list: any[] = Array.isArray(alarms) ? alarms : alarms.alarms;
  expect(list).toHaveLength(1); // raised although nothing is known to be wrong with the object
  const ack = w.hoard("alarm", "ack", String(list[0].id), "--note", "gone, I think", "--json");
  expect(ack.code).not.toBe(0);
  expect(ack.stdout + ack.stderr).toContain("alarm_not_lost");
  const st = w.hoard("ls", "photos", "--json");
  expect(st.stdout).toContain("offloaded");
});
