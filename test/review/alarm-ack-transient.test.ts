// Review: an alarm raised because a destination could not be asked at all (its handler threw: a
// network error, a disk busy) says nothing about the file; acknowledging it must not give up a file
// whose latest check at that very destination held.

import { expect, test } from "bun:test";
import { patchedDirWorld } from "./lib.ts";

test("alarm ack is refused while the alarm's own destination still holds the file (its latest check held)", () => {
  // the example destination, whose push fails as a whole (throws) when REVIEW_PUSH_FAILS is set
  const w = patchedDirWorld({ "a.txt": "alpha\n" }, (src) =>
    src.replace("    async push(manifest, ctx) {\n", '    async push(manifest, ctx) {\n      if (process.env.REVIEW_PUSH_FAILS) throw new Error("connection reset");\n'),
  );
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
