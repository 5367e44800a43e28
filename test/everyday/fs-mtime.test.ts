// The fs destination keeps modification times (issue 14, item 8): an object pushed by `hoard sync`
// carries its source's mtime, small files (read and written) and large ones (copied in the kernel) alike.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { lstatSync, writeFileSync } from "node:fs";
import { asyncFsWorld, cleanupWorlds, code, setMtimeNs } from "../e2e/lib.ts";

setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

/** futimes takes seconds as a float (about 0.2 µs of precision today): equal within a microsecond. */
const near = (got: bigint, want: bigint) => (got > want ? got - want : want - got) <= 1000n;
const mtimeAt = (p: string) => lstatSync(p, { bigint: true }).mtimeNs;

test("sync to an fs destination: every object has the source's modification time, a replaced object too", async () => {
  const w = await asyncFsWorld({ files: { "old.txt": "from 2001\n", "dir/new.txt": "recent\n" } });
  writeFileSync(w.path("vol/dir/big.bin"), Buffer.alloc(3 << 20, 7)); // over 1 MiB: the kernel copy path
  const times: Record<string, bigint> = { "old.txt": 978_307_200_123_456_000n, "dir/new.txt": 1_700_000_000_987_654_000n, "dir/big.bin": 1_234_567_890_000_001_000n };
  for (const [rel, ns] of Object.entries(times)) setMtimeNs(w.path(`vol/${rel}`), ns);
  code(await w.hoardAsync("index", "photos"), 0);
  const r = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(r.json.results[0].counts).toMatchObject({ transferred: 3, verified: 3 });
  for (const [rel, ns] of Object.entries(times)) expect({ rel, got: mtimeAt(w.path(`nas/photos/${rel}`)), near: near(mtimeAt(w.path(`nas/photos/${rel}`)), ns) }).toMatchObject({ rel, near: true });

  // a changed file: the new object (the old one kept in the history) has the new file's time
  writeFileSync(w.path("vol/old.txt"), "edited\n");
  setMtimeNs(w.path("vol/old.txt"), 1_600_000_000_000_002_000n);
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  expect(near(mtimeAt(w.path("nas/photos/old.txt")), 1_600_000_000_000_002_000n)).toBe(true);
  // a second sync accepts the objects as they are (nothing copied again)
  const again = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(again.json.results[0].counts.transferred).toBe(0);
});
