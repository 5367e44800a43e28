// `hoard dest add NAME --type kopia …` (issue 14, item 2), as the README writes it: the `{ env = … }`
// VALUE becomes an inline table, the destination initialises and syncs (kopia double on PATH); a
// kopia table missing its repository is refused before anything is written.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { ROOT, world, type World } from "../helpers.ts";
import { code } from "../e2e/lib.ts";
import { DOUBLE_DIR } from "../kopia/harness.ts";

const made: World[] = [];
afterAll(() => {
  for (const w of made) w.cleanup();
});

test("dest add vault --type kopia repository=DIR 'password={ env = \"KOPIA_PASSWORD\" }': written as typed, validated, usable", async () => {
  const w = world({ env: { PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, KOPIA_PASSWORD: "kopia-pw-Xy7" } });
  made.push(w);
  code(await w.hoardAsync("init"), 0);
  mkdirSync(w.path("vol"));
  w.write("vol/a.txt", "alpha\n");
  const repo = w.path("kopia");

  // without its repository: exit 2 naming the key, nothing written
  const before = readFileSync(w.config, "utf8");
  const bad = code(await w.hoardAsync("dest", "add", "vault", "--type", "kopia", 'password={ env = "KOPIA_PASSWORD" }'), 2);
  expect(bad.stderr).toContain("repository");
  expect(readFileSync(w.config, "utf8")).toBe(before);

  // the README's line, with the repository in a temp directory
  const r = code(await w.hoardAsync("dest", "add", "vault", "--type", "kopia", `repository=${repo}`, 'password={ env = "KOPIA_PASSWORD" }', "--json"), 0);
  expect(r.json).toMatchObject({ destination: "vault", type: "kopia", keys: ["repository", "password"] });
  const text = readFileSync(w.config, "utf8");
  expect(text.startsWith(before)).toBe(true);
  expect((parse(text) as any).destinations.vault).toEqual({ type: "kopia", repository: repo, password: { env: "KOPIA_PASSWORD" } });
  expect(text).not.toContain("kopia-pw-Xy7");

  code(await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--require", "vault"), 0);
  code(await w.hoardAsync("dest", "init", "vault"), 0);
  code(await w.hoardAsync("index", "photos"), 0);
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s.json.results[0]).toMatchObject({ destination: "vault", status: "success" });
  expect(code(await w.hoardAsync("offload", "photos", "-n", ".", "--json"), 0).json.counts.offloadable).toBe(1);
}, 240_000);
