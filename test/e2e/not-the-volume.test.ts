// A destination that is the volume itself seen through another path (a bind mount, an rclone remote
// defined outside hoard's config that covers the volume) holds no copies: sync and offload refuse it,
// found by a never-pushed probe file. And a trusted destination is believed unasked only when it
// cannot be reached, never when it answers with an unreadable or foreign identity.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { world, type World } from "../helpers.ts";
import { asyncFsWorld, cleanupWorlds, code, liveStatus, read, syncedWorld } from "./lib.ts";

setDefaultTimeout(240_000);
const worlds: World[] = [];
afterAll(() => {
  cleanupWorlds();
  for (const w of worlds) w.cleanup();
});

test.concurrent("an rclone remote defined in rclone's own config as a local disk that covers the volume: sync refuses (the probe is seen), offload deletes nothing", async () => {
  const w = world();
  worlds.push(w);
  // the volume `photos` lives at <dir>/photos; remote `usb` is a local disk defined outside hoard's
  // config, so `usb:<dir>` + `/photos` is the volume itself, which no path check in the config can see
  for (const [rel, c] of Object.entries({ "a.txt": "alpha\n", "dir/b.txt": "bravo\n" })) w.write(`photos/${rel}`, c);
  w.env.RCLONE_CONFIG_USB_TYPE = "local";
  w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("photos"))}\nsync_to = ["nas"]\noffload_requires = ["nas"]\n\n[destinations.nas]\ntype = "rclone"\nremote = ${JSON.stringify(`usb:${w.dir}`)}\n`);
  code(await w.hoardAsync("volume", "add", "photos", w.path("photos")), 0);
  code(await w.hoardAsync("dest", "init", "nas"), 0);
  code(await w.hoardAsync("index", "photos"), 0);
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 3);
  expect(JSON.stringify(s.json)).toContain("dest_is_volume");
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0); // no evidence: nothing may go
  expect(off.json.offloaded).toEqual([]);
  expect(readFileSync(w.path("photos/a.txt"), "utf8")).toBe("alpha\n");
  expect(readFileSync(w.path("photos/dir/b.txt"), "utf8")).toBe("bravo\n");
  // no probe left behind
  expect(readdirSync(w.path("photos")).filter((n) => n.startsWith(".hoard-tmp-"))).toEqual([]);
});

test.concurrent("an fs destination whose volume directory is a bind mount of the volume: offload (even --confirm content) keeps every file; sync refuses", async () => {
  const w = await syncedWorld();
  rmSync(w.path("nas/photos"), { recursive: true });
  mkdirSync(w.path("nas/photos"));
  const m = spawnSync("mount", ["--bind", w.path("vol"), w.path("nas/photos")]);
  if (m.status !== 0) {
    console.warn(`skipped: cannot bind-mount here (${String(m.stderr).trim()})`);
    return;
  }
  try {
    for (const extra of [[], ["--confirm", "content"]]) {
      const off = await w.hoardAsync("offload", "photos", ".", "--json", ...extra);
      expect(off.code).toBe(4);
      expect(off.json.counts.offloaded).toBe(0);
      expect(JSON.stringify(off.json.problems)).toContain("never pushed");
    }
    expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 3);
    expect(JSON.stringify(s.json)).toContain("dest_is_volume");
  } finally {
    spawnSync("umount", [w.path("nas/photos")]);
  }
});

test.concurrent("trusted = true is no excuse for a destination that answers with an unreadable or foreign marker: refused, nothing deleted", async () => {
  const w = await syncedWorld();
  writeFileSync(w.config, readFileSync(w.config, "utf8") + "trusted = true\n"); // [destinations.nas] is the last table
  rmSync(w.path("nas/photos"), { recursive: true });
  writeFileSync(w.path("nas/.hoard-destination"), JSON.stringify({ id: 42 }));
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
  expect(off.json.error.code).toBe("offload_identity");
  expect(off.stderr).toContain("nothing was deleted");
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
  // while a destination that really cannot be reached is believed from its evidence (and named)
  rmSync(w.path("nas"), { recursive: true });
  const gone = code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 0);
  expect(gone.json.destinations).toEqual([expect.objectContaining({ name: "nas", trusted: true, asked: false })]);
});
