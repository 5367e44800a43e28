// Review: a destination plugin (plain JavaScript, no type checks) whose live confirmation answers
// `ok: "false"` (a string) for a lost object must not let offload delete the local file.

import { expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { patchedDirWorld } from "./lib.ts";

test("a live confirmation answering ok: \"false\" (not the boolean true) keeps the file", () => {
  // the example destination, with its presence answer for a missing object turned into ok: "false"
  const w = patchedDirWorld({ "a.txt": "alpha\n" }, (src) =>
    src.replace('ok: false, reason: "stored object is missing or has another size"', 'ok: "false" as any, reason: "stored object is missing or has another size"'),
  );
  expect(w.hoard("sync", "photos").code).toBe(0);
  // the stored object is lost behind hoard's back, right after a good sync
  for (const d of readdirSync(w.path("usb/blobs"))) for (const n of readdirSync(w.path(`usb/blobs/${d}`))) rmSync(w.path(`usb/blobs/${d}/${n}`));
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.json.counts.offloaded).toBe(0);
  expect(off.json.counts.unconfirmed).toBe(1);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
});

test("a push or verify answering ok: \"false\" (never stored) is not counted as verified", () => {
  // the example destination, its content check of a missing object answering ok: "false": its push then
  // believes the object is stored already and never stores it
  const w = patchedDirWorld({ "a.txt": "alpha\n" }, (src) =>
    src.replace('if (!got) return { path: e.path, ok: false, reason: "stored object is missing", missing: true };', 'if (!got) return { path: e.path, ok: "false" as any, reason: "stored object is missing", missing: true };'),
  );
  const sync = w.hoard("sync", "photos", "--json");
  expect(sync.code).not.toBe(0);
  expect(sync.json.results[0].counts).toMatchObject({ verified: 0, failed: 1 });
  const v = w.hoard("verify", "usb", "photos", "--json");
  expect(v.code).not.toBe(0);
  expect(w.hoard("offload", "photos", ".", "--json").json.counts.offloaded).toBe(0);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
});
