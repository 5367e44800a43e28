// The new everyday commands keep the --json rules of test/shell/json.test.ts: exactly one document,
// snake_case keys, *_at fields as RFC 3339 with nanoseconds, and an error document on failure.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { syncedWorld, cleanupWorlds } from "../e2e/lib.ts";
import type { Result } from "../helpers.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

const RFC3339_NS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
const DATA_MAPS = new Set(["files", "details"]); // status' `files` is keyed by file status

function problems(x: unknown, at = "$"): string[] {
  const out: string[] = [];
  if (Array.isArray(x)) x.forEach((v, i) => out.push(...problems(v, `${at}[${i}]`)));
  else if (x && typeof x === "object")
    for (const [k, v] of Object.entries(x)) {
      if (!/^[a-z][a-z0-9_]*$/.test(k)) out.push(`${at}.${k}: key is not snake_case`);
      if ((k.endsWith("_at") || k === "at") && v !== null && !(typeof v === "string" && RFC3339_NS.test(v))) out.push(`${at}.${k}: ${JSON.stringify(v)}`);
      if (!DATA_MAPS.has(k) || Array.isArray(v)) out.push(...problems(v, `${at}.${k}`));
    }
  return out;
}

function one(r: Result, expectCode: number, what: string): any {
  expect({ what, code: r.code }).toEqual({ what, code: expectCode });
  const doc = JSON.parse(r.stdout);
  expect(r.stdout.trimEnd().split("\n").filter((l) => /^[{\[]/.test(l))).toHaveLength(1);
  expect({ what, problems: problems(doc) }).toEqual({ what, problems: [] });
  return doc;
}

test("ls, dest add, volume add/rm, status with a removed volume, sync with a failed destination", async () => {
  const w = await syncedWorld({ extraDests: ["cloud"] });
  one(await w.hoardAsync("ls", "photos", "--json"), 0, "ls");
  one(await w.hoardAsync("ls", "photos", "dir", "nope", "--json"), 0, "ls with selectors");
  one(await w.hoardAsync("dest", "add", "usb", "--type", "fs", `path=${w.path("usb")}`, "--json"), 0, "dest add");
  expect(one(await w.hoardAsync("dest", "add", "usb", "--type", "fs", `path=${w.path("usb")}`, "--json"), 2, "dest add again").error.code).toBe("destination_exists");
  rmSync(w.path("cloud"), { recursive: true, force: true });
  const sync = one(await w.hoardAsync("sync", "photos", "--json"), 4, "sync with a failed destination");
  expect(sync.results.map((r: any) => r.status)).toEqual(["success", "failed"]);
  one(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 0, "offload");
  expect(one(await w.hoardAsync("volume", "rm", "photos", "--json"), 3, "volume rm refused").error.details).toEqual({ offloaded_files: 1, offloaded_bytes: 6 });
  one(await w.hoardAsync("volume", "rm", "photos", "--forget-offloaded", "--json"), 0, "volume rm");
  const st = one(await w.hoardAsync("status", "--check", "--json"), 4, "status --check");
  expect(st.removed_volumes).toHaveLength(1);
  one(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "nas", "--json"), 0, "volume add --require");
});
