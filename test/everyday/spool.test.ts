// A list streamed from a spool prints exactly the text toJson prints with the list in the data
// (a dry run's would_offload over a big volume is never held in memory).

import { expect, test } from "bun:test";
import { toJson } from "../../src/cli/output.ts";
import { Spool, writeJsonWith } from "../../src/cli/spool.ts";

function both(data: Record<string, unknown>, key: string, items: unknown[]): [string, string] {
  const spool = new Spool();
  for (const x of items) spool.add(x);
  let out = "";
  writeJsonWith(data, key, spool, (s) => void (out += s));
  return [out, toJson({ ...data, [key]: items }) + "\n"];
}

test("same text as toJson: empty, one, many (past a chunk), odd characters, bigints and *_at times", () => {
  const data = { run_id: null, volume: "v", counts: { selected: 3n, offloadable: 2 }, refusals: [{ destination: "d", examples: ["a"] }] };
  const many = Array.from({ length: 5000 }, (_, i) => ({ path: `d${i % 7}/f${i}`, size: i }));
  const odd = [{ path: "naïve/\u0000\n\"q\"/😀 é", size: 2n ** 60n }, { path: "x", size: 1, checked_at: 1_700_000_000_000_000_000n }];
  for (const items of [[], [{ path: "a", size: 1 }], many, odd]) {
    const [a, b] = both(data, "would_offload", items);
    expect(a).toBe(b);
  }
});
