// Secrets (invariant 9) and volume hooks: a hook never receives a variable the config names as a
// secret (nor a copy of its value), and secret values never reach hook_runs or `hoard hooks --json`.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { world, type World } from "../helpers.ts";
import { rows } from "../e2e/lib.ts";
import { redact } from "../../src/ops/hooks.ts";

const made: World[] = [];
afterAll(() => {
  for (const w of made.splice(0)) w.cleanup();
});

const ENV_SECRET = "kopia-env-pw-7f3a9c1e55";
const LITERAL_SECRET = "literal-pw-b81d04e2";

describe("hooks and secrets", () => {
  test("a failing hook that prints secrets: the variable never reaches it, no value reaches the DB or --json", () => {
    const w = world({ env: { HOARD_SAFETY_KOPIA_PW: ENV_SECRET, SOME_COPY_OF_IT: ENV_SECRET, HOARD_SAFETY_HARMLESS: "visible" } });
    made.push(w);
    mkdirSync(w.path("vol"), { recursive: true });
    w.write("vol/a.txt", "alpha\n");
    // the hook prints what it got from the environment, and the secrets it knows by other means
    const hook = w.write(
      "hook.sh",
      `#!/bin/sh\necho "env=[$HOARD_SAFETY_KOPIA_PW] copy=[$SOME_COPY_OF_IT] harmless=[$HOARD_SAFETY_HARMLESS]" >&2\necho "known=[${ENV_SECRET}] literal=[${LITERAL_SECRET}]" >&2\nexit 3\n`,
    );
    chmodSync(hook, 0o755);
    w.setConfig(
      `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\n\n[volumes.photos.hook]\ncommand = [${JSON.stringify(hook)}]\n\n` +
        `[destinations.vault]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo"))}\npassword = { env = "HOARD_SAFETY_KOPIA_PW" }\n\n` +
        `[destinations.vault2]\ntype = "kopia"\nrepository = ${JSON.stringify(w.path("repo2"))}\npassword = ${JSON.stringify(LITERAL_SECRET)}\n`,
    );
    expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
    const idx = w.hoard("index", "photos", "--json");
    expect(idx.code).toBe(0); // the hook's failure is not the index run's
    expect(idx.json.hook.status).toBe("failed");

    const [row] = rows<{ stderr_tail: string; note: string | null; status: string }>(w, "SELECT stderr_tail, note, status FROM hook_runs");
    expect(row!.status).toBe("failed");
    expect(row!.stderr_tail).toContain("env=[] copy=[] harmless=[visible]");
    expect(row!.stderr_tail).toContain("known=[<redacted>] literal=[<redacted>]");

    const listed = w.hoard("hooks", "--json");
    expect(listed.code).toBe(0);
    expect(listed.json.hooks[0].stderr_tail).toContain("known=[<redacted>]");
    const dbBytes = [w.db, `${w.db}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p).toString("latin1"));
    for (const text of [listed.stdout, listed.stderr, idx.stdout, idx.stderr, ...dbBytes]) {
      expect(text).not.toContain(ENV_SECRET);
      expect(text).not.toContain(LITERAL_SECRET);
    }
  }, 180_000);
});

describe("redact", () => {
  test("every occurrence, longest first, and a secret cut at the start of a kept tail", () => {
    expect(redact("a hunter2hunter2 b hunter2", ["hunter2", "hunter2hunter2"])).toBe("a <redacted> b <redacted>");
    expect(redact("nter2-secret-value and more", ["hunter2-secret-value"])).toBe("<redacted> and more");
    expect(redact("plain text", ["absent"])).toBe("plain text");
    expect(redact(null, ["x"])).toBeNull();
  });
});
