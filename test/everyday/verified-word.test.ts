// "verified" is used only for content checks (issue 14, item 5): a sync's summary says "verified by
// content" for bytes compared in this run, "unchanged since their last content check" for objects
// accepted on receipts, and "matched by size only (not verified)" on a remote without a usable hash.

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { cleanup, serve, type Server } from "../rclone/harness.ts";
import { cleanupWorlds, rcloneWorld } from "../rclone-e2e/lib.ts";

setDefaultTimeout(240_000);
let dav: Server;
beforeAll(async () => {
  dav = await serve("webdav");
});
afterAll(() => {
  dav?.stop();
  cleanupWorlds();
  cleanup();
});

/** The summary line of a one-destination sync or verify (the line after its header). */
const holdLine = (stdout: string) => stdout.split("\n").find((l) => /^ {2}\d+\/\d+ hold/.test(l)) ?? `(no hold line in)\n${stdout}`;

test.concurrent("rclone local path: first sync verified by content; a no-change sync is unchanged on receipts, not verified; verify reads again", async () => {
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest"), extra: ['reverify_budget = "0"'] }) });
  await w.run(0, "index", "photos");
  const first = await w.run(0, "sync", "photos");
  expect(holdLine(first.stdout)).toBe("  3/3 hold: 3 verified by content; 3 transferred, 0 failed");
  const again = await w.run(0, "sync", "photos");
  expect(holdLine(again.stdout)).toBe("  3/3 hold: 3 unchanged since their last content check (not read again); 0 transferred, 0 failed");
  expect(again.stdout).not.toMatch(/\bverified\b/);
  const json = await w.run(0, "sync", "photos", "--json");
  expect(json.json.results[0].counts).toMatchObject({ verified: 3, checked: 0, unchanged: 3, size_only: 0 });
  const ver = await w.run(0, "verify", "r");
  expect(holdLine(ver.stdout)).toBe("  3/3 hold: 3 verified by content; 0 transferred, 0 failed");
});

test.concurrent("webdav without a usable hash (verify = hash): matched by size only, never called verified", async () => {
  const w = await rcloneWorld({ dest: () => ({ remote: ":webdav,url='http://127.0.0.1:" + dav.port + "':sizeonly" }) });
  await w.run(0, "index", "photos");
  const s = await w.run(0, "sync", "photos");
  expect(holdLine(s.stdout)).toBe("  3/3 hold: 3 matched by size only (not verified); 3 transferred, 0 failed");
  expect(s.stdout).not.toMatch(/\d+ verified/);
  const json = await w.run(0, "sync", "photos", "--json");
  expect(json.json.results[0].counts).toMatchObject({ manifest: 3, verified: 3, checked: 0, size_only: 3 });
});
