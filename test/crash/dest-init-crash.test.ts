// Crash-injection at `dest init` (checkpoint dest-init.marker): killed between writing the marker
// and pinning it, the destination shows an identity this database never pinned. A plain re-run
// refuses and names --adopt; adopting pins it and grants no evidence until a sync verifies.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { asyncFsWorld, cleanupWorlds, code, read, rows } from "../e2e/lib.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

test.concurrent("SIGKILL between the marker and the pin: init refuses and hints --adopt; --adopt pins it; offload waits for a verifying sync", async () => {
  const w = await asyncFsWorld({ destInit: false });
  w.env.HOARD_TEST_CRASH_AT = "dest-init.marker";
  const killed = await w.hoardAsync("dest", "init", "nas");
  delete w.env.HOARD_TEST_CRASH_AT;
  expect(killed.code).not.toBe(0);
  expect(existsSync(w.path("nas/.hoard-destination"))).toBe(true); // the marker was written
  expect(rows(w, "SELECT * FROM destinations")).toEqual([]); // not pinned

  const again = code(await w.hoardAsync("dest", "init", "nas", "--json"), 3);
  expect(again.json.error.code).toBe("dest_already_initialised");
  expect(again.json.error.hint).toContain("hoard dest init nas --adopt");

  const marker = JSON.parse(readFileSync(w.path("nas/.hoard-destination"), "utf8")).id;
  const adopted = code(await w.hoardAsync("dest", "init", "nas", "--adopt", "--json"), 0);
  expect(adopted.json).toMatchObject({ destination: "nas", identity: marker, epoch: 1, adopted: true });
  expect(rows(w, "SELECT kind, note FROM destination_events")).toEqual([{ kind: "init", note: expect.stringContaining("adopted") }]);

  // adopting grants nothing: offload is refused until a sync verifies, then works
  code(await w.hoardAsync("index", "photos"), 0);
  const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
  expect(dry.json.counts.offloadable).toBe(0);
  code(await w.hoardAsync("sync", "photos"), 0);
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off.json.counts.offloaded).toBe(3);
  code(await w.hoardAsync("restore", "photos"), 0);
  expect(read(w, "vol/a.txt")).toBe("alpha\n");
});

test.concurrent("--adopt refuses a destination with nothing to adopt, and one whose identity another destination pins", async () => {
  const w = await asyncFsWorld({ destInit: false, extraDests: ["usb"] });
  code(await w.hoardAsync("dest", "init", "nas"), 0);
  mkdirSync(w.path("usb")); // there, but never initialised
  const none = code(await w.hoardAsync("dest", "init", "usb", "--adopt", "--json"), 3);
  expect(none.json.error.code).toBe("dest_nothing_to_adopt");
  // usb pointed at nas's directory: one place is never two copies
  w.setConfig(readFileSync(w.config, "utf8").replace(JSON.stringify(w.path("usb")), JSON.stringify(w.path("nas"))));
  const same = code(await w.hoardAsync("dest", "init", "usb", "--adopt", "--json"), 3);
  expect(same.json.error.code).toBe("dest_same_identity");
  expect(same.json.error.message).toContain("nas");
  expect(rows(w, "SELECT name FROM destinations ORDER BY name")).toEqual([{ name: "nas" }]);
});
