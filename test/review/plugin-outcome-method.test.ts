// Review: a destination plugin (no type checks) answering `ok: true` without a method for one file
// has compared nothing it names: that answer must not count as a content check for offload.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { patchedDirWorld } from "./lib.ts";

test("an ok answer without a method (for b.txt, whose object is lost) is no check and no confirmation: b.txt is kept", () => {
  // every answer about b.txt comes without a method (and without reading anything back)
  const w = patchedDirWorld({ "a.txt": "alpha\n", "b.txt": "bravo\n" }, (src) =>
    src.replace(
    "  function check(root: AnchoredDir, index: Index, e: ManifestEntry, depth: ConfirmDepth | \"stored\" = \"content\"): FileOutcome {\n",
    "  function check(root: AnchoredDir, index: Index, e: ManifestEntry, depth: ConfirmDepth | \"stored\" = \"content\"): FileOutcome {\n    if (process.env.REVIEW_NOMETHOD && e.path === \"b.txt\") return { path: e.path, ok: true, verifiedAt: nowNs() } as any;\n",
  ),
  );
  expect(w.hoard("sync", "photos").code).toBe(0); // a good sync first: evidence for both files
  // b.txt's stored object is lost; from now on every answer about it is ok without a method
  const blob = readdirSync(w.path("usb/blobs")).flatMap((d) => readdirSync(w.path(`usb/blobs/${d}`)).map((n) => w.path(`usb/blobs/${d}/${n}`))).find((f) => readFileSync(f, "utf8") === "bravo\n")!;
  rmSync(blob);
  w.env.REVIEW_NOMETHOD = "1";
  w.hoard("sync", "photos", "--json");
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.json.offloaded).not.toContain("b.txt");
  expect(w.read("vol/b.txt")).toBe("bravo\n");
});
