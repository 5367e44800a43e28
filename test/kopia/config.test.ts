// A kopia destination that cannot run, through the CLI: an unset password variable fails only the
// commands that use that destination (status and other destinations work); a missing binary says how to install kopia.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";
import { DOUBLE_DIR } from "./harness.ts";

const worlds: World[] = [];
afterAll(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});
const SLOW = 240_000;
const UNSET = "HOARD_TEST_KOPIA_PW_NEVER_SET";

/** Volume docs → fs destination f, volume photos → kopia destination k (password from `pwVar`, optional binary). */
function mkWorld(o: { pwVar: string; binary?: string; path?: string }): World {
  const w = world({ env: { PATH: o.path ?? `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOARD_TEST_KOPIA_PW_SET: "pw-set-Zq9" } });
  delete w.env[UNSET];
  worlds.push(w);
  w.write("docs/a.txt", "alpha\n");
  w.write("photos/p.txt", "photo\n");
  w.setConfig(
    `node = "n1"\n\n[volumes.docs]\npath = ${JSON.stringify(w.path("docs"))}\nsync_to = ["f"]\noffload_requires = ["f"]\n\n` +
      `[volumes.photos]\npath = ${JSON.stringify(w.path("photos"))}\nsync_to = ["k"]\noffload_requires = ["k"]\n\n` +
      `[destinations.f]\ntype = "fs"\npath = ${JSON.stringify(w.path("fsdest"))}\n\n` +
      `[destinations.k]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = { env = "${o.pwVar}" }\n` +
      (o.binary ? `binary = ${JSON.stringify(o.binary)}\n` : ""),
  );
  return w;
}

async function ok(w: World, ...args: string[]) {
  const r = await w.hoardAsync(...args);
  if (r.code !== 0) throw new Error(`hoard ${args.join(" ")}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

describe.concurrent("kopia destination that cannot run", () => {
  test(
    "an unset password variable fails only commands that use the kopia destination, naming the variable; status and the fs destination work",
    async () => {
      const w = mkWorld({ pwVar: UNSET });
      await ok(w, "volume", "add", "docs", w.path("docs"));
      await ok(w, "volume", "add", "photos", w.path("photos"));
      await ok(w, "index", "docs");
      await ok(w, "index", "photos");
      await ok(w, "dest", "init", "f");
      await ok(w, "sync", "docs");
      expect((await ok(w, "offload", "docs", "a.txt", "--json")).json.counts.offloaded).toBe(1);
      const st = await ok(w, "status", "--json");
      expect(JSON.stringify(st.json)).toContain("docs");
      for (const args of [["dest", "init", "k"], ["sync", "photos"], ["verify", "k", "photos"]]) {
        const r = await w.hoardAsync(...args, "--json");
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.json.error.code).toBe("config_secret_unset");
        expect(r.json.error.message).toContain(`destinations.k.password: environment variable ${UNSET} is not set`);
        expect(r.json.error.hint).toContain(`export ${UNSET}=`);
      }
      // human output names it too; an empty variable is refused the same way
      const human = await w.hoardAsync("sync", "photos");
      expect(human.code).toBe(2);
      expect(human.stderr).toContain(`environment variable ${UNSET} is not set`);
      w.env[UNSET] = "";
      const empty = await w.hoardAsync("sync", "photos", "--json");
      expect(empty.code).toBe(2);
      expect(empty.json.error.message).toContain(`environment variable ${UNSET} is empty`);
      // once it is set, the destination works
      w.env[UNSET] = "now-set-Qx1";
      await ok(w, "dest", "init", "k");
      await ok(w, "sync", "photos");
    },
    SLOW,
  );

  test(
    "a broken kopia table besides an unset variable is still a config error for every command, listing both",
    async () => {
      const w = mkWorld({ pwVar: UNSET });
      w.setConfig(`${readFileSync(w.config, "utf8")}verify_files_percent = 500\n`);
      const r = await w.hoardAsync("status", "--json");
      expect(r.code).toBe(2);
      expect(r.json.error.code).toBe("config_invalid");
      expect(r.json.error.message).toContain(`environment variable ${UNSET} is not set`);
      expect(r.json.error.message).toContain("destinations.k.verify_files_percent");
    },
    SLOW,
  );

  test(
    "a missing kopia binary: the error says kopia is not installed, how to install it, and the binary option",
    async () => {
      for (const o of [{ binary: "/nonexistent/bin/kopia" }, { path: "/usr/bin:/bin" /* no kopia on PATH */ }]) {
        const w = mkWorld({ pwVar: "HOARD_TEST_KOPIA_PW_SET", ...o });
        await ok(w, "volume", "add", "photos", w.path("photos"));
        const r = await w.hoardAsync("dest", "init", "k", "--json");
        expect({ o, code: r.code }).toEqual({ o, code: 1 });
        expect(r.json.error.code).toBe("kopia_not_found");
        expect(r.json.error.message).toContain("kopia is not installed or not found");
        expect(r.json.error.message).toContain(o.binary ?? "looked up on PATH");
        expect(r.json.error.hint).toContain("install kopia");
        expect(r.json.error.hint).toContain("destinations.k.binary");
        const human = await w.hoardAsync("dest", "init", "k");
        expect(human.stderr).toContain("install kopia");
      }
    },
    SLOW,
  );
});
