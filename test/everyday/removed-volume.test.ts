// A volume removed from the config while it has open alarms (and no offloaded file left) does not drop
// out of monitoring (issue 14, item 2): `status` reports it and `status --check` exits 4 until it is back.

import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { cleanupWorlds, code, liveStatus, syncedWorld } from "../e2e/lib.ts";

afterAll(cleanupWorlds);

test("open alarms, nothing offloaded: volume rm goes through, status reports the volume with its alarm, --check exits 4; adding it back and syncing is green", async () => {
  const w = await syncedWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
  code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  rmSync(w.path("nas/photos/a.txt"));
  code(await w.hoardAsync("verify", "nas", "photos"), 4); // raises the alarm: the offloaded file's copy at nas is gone
  code(await w.hoardAsync("restore", "photos", "a.txt", "--from", "cloud"), 0); // back locally; the alarm stays open until nas holds it again
  expect(liveStatus(w)["a.txt"]).toBe("present");
  const alarms = code(await w.hoardAsync("alarms", "--json"), 0).json.alarms;
  expect(alarms).toEqual([expect.objectContaining({ volume: "photos", destination: "nas", path: "a.txt", state: "open" })]);

  // nothing offloaded: no --forget-offloaded needed; it warns about the open alarm
  const rm = code(await w.hoardAsync("volume", "rm", "photos"), 0).stdout;
  expect(rm).toContain("removed [volumes.photos]");
  expect(rm).toContain("warning: 1 open alarm of photos (`hoard alarms`); `hoard status` keeps reporting it until the volume is added back");

  const st = code(await w.hoardAsync("status", "--json"), 0).json;
  expect(st.volumes).toEqual([]);
  expect(st.removed_volumes).toEqual([expect.objectContaining({ volume: "photos", in_config: false, offloaded: { files: 0, bytes: 0 }, alarms: 1 })]);
  const check = code(await w.hoardAsync("status", "--check", "--json"), 4).json;
  expect(check.problems).toEqual(expect.arrayContaining([expect.objectContaining({ volume: "photos", code: "volume_not_in_config", message: expect.stringContaining("1 open alarm") })]));
  const human = code(await w.hoardAsync("status", "--check"), 4).stdout;
  expect(human).toContain("NOT IN THE CONFIG");
  expect(human).toContain(", 1 open alarm: nothing monitors them");
  expect(human).toContain("hoard volume add photos");

  // the way out it names: add it back, sync (nas holds a.txt again, the alarm clears): green
  code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nas,cloud"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  expect(code(await w.hoardAsync("alarms", "--json"), 0).json.alarms).toEqual([]);
  code(await w.hoardAsync("status", "--check"), 0);
}, 300_000);
