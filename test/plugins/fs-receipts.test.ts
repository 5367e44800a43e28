// The fs destination's receipts kept in columns: what is saved is loaded back the same (deletions and
// reused slots included), a scope change discards them, and a receipt the columns cannot hold is not kept.

import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Receipts, loadReceipts, saveReceipts, type Receipt } from "../../plugins/fs/receipts.ts";
import { tempDir } from "../helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("receipts round-trip through the state file; unusable ones are dropped (the file is read back again)", () => {
  const dir = tempDir("hoard-fsrc-");
  dirs.push(dir);
  const m = new Receipts("scope-1");
  const want = new Map<string, Receipt>();
  for (let i = 0; i < 3000; i++) {
    const r = { blake3: i.toString(16).padStart(8, "0").repeat(8), size: i, mtime_ns: String(1_700_000_000_000_000_000n + BigInt(i)), checked_at: String(1_800_000_000_000_000_000n + BigInt(i)) };
    m.set(`d/${i}`, r);
    want.set(`d/${i}`, r);
  }
  for (let i = 0; i < 3000; i += 3) (m.delete(`d/${i}`), want.delete(`d/${i}`));
  const again = { blake3: "0f".repeat(32), size: 7, mtime_ns: "5", checked_at: "6" };
  m.set("d/1", again); // an update keeps its place
  want.set("d/1", again);
  m.set("later", again); // a freed slot reused
  want.set("later", again);
  m.set("upper", { ...again, blake3: "AB".repeat(32) });
  m.set("negative", { ...again, mtime_ns: "-1" });
  m.set("too-large", { ...again, checked_at: "9999999999999999999" });
  m.set("d/2", { ...again, size: Number.NaN }); // replaces a good one: dropped
  want.delete("d/2");
  expect(m.get("d/1")).toEqual(again);
  m.dirty = true;
  saveReceipts(dir, "vol", m);
  const back = loadReceipts(dir, "vol", "scope-1");
  expect([...back]).toEqual([...want]);
  expect(back.size).toBe(want.size);
  expect(back.dirty).toBe(false);
  const other = loadReceipts(dir, "vol", "scope-2");
  expect(other.size).toBe(0);
  expect(other.dirty).toBe(true);
});
