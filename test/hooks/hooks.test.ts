// Volume hooks end to end through the real CLI: environment, success, non-zero exit, a missing
// program, timeout killing the whole process group, hostile paths (no shell), concurrent skip.

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { world, type World } from "../helpers.ts";

setDefaultTimeout(180_000); // every step runs the real CLI as a child process

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

/** A world with volume `photos` at `volDir` (relative to the world) and a hook running `command`. */
function hookWorld(command: (w: World) => string[], o: { timeout?: string; volDir?: string } = {}): World {
  const w = world();
  worlds.push(w);
  const vol = w.path(o.volDir ?? "vol");
  mkdirSync(vol, { recursive: true });
  writeFileSync(join(vol, "a.txt"), "alpha\n");
  w.setConfig(
    `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(vol)}\n\n[volumes.photos.hook]\ncommand = ${JSON.stringify(command(w))}\n` +
      (o.timeout ? `timeout = ${JSON.stringify(o.timeout)}\n` : ""),
  );
  const add = w.hoard("volume", "add", "photos", vol);
  if (add.code !== 0) throw new Error(`volume add failed: ${add.stderr}`);
  return w;
}

/** An executable /bin/sh script in the world. */
function script(w: World, name: string, body: string): string {
  const p = w.write(name, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function index(w: World) {
  const r = w.hoard("index", "photos", "--json");
  if (r.code !== 0) throw new Error(`index exited ${r.code}: ${r.stderr}`);
  return r.json;
}
const hooks = (w: World, ...args: string[]) => w.hoard("hooks", "--json", ...args).json.hooks as any[];

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e: any) {
    return e.code === "ESRCH";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z"); // dead, waiting to be reaped
  } catch {
    return true;
  }
}

describe("volume hooks", () => {
  test("success: fired after every finished index run with HOARD_* in the environment; listed by `hoard hooks`", () => {
    const w = hookWorld((w) => [script(w, "hook.sh", 'env | grep "^HOARD_" | sort > "$1.$HOARD_RUN_ID"\necho "all good" >&2'), w.path("env")]);
    const first = index(w);
    expect(first.hook).toMatchObject({ status: "success", exit_code: 0 });
    const env = Object.fromEntries(readFileSync(w.path(`env.${first.run_id}`), "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env).toMatchObject({ HOARD_VOLUME: "photos", HOARD_PATH: w.path("vol"), HOARD_RUN_ID: String(first.run_id), HOARD_CHANGED: "true", HOARD_TRIGGER: "cli" });
    const second = index(w);
    expect(readFileSync(w.path(`env.${second.run_id}`), "utf8")).toContain("HOARD_CHANGED=false");
    // the index run had finished before its hook started
    const run = w.hoard("runs", "show", String(first.run_id), "--json").json;
    const rows = hooks(w);
    expect(rows).toHaveLength(2);
    const h = rows.find((r) => r.trigger_run === first.run_id);
    expect(h).toMatchObject({ volume: "photos", trigger: "cli", status: "success", exit_code: 0, command: [w.path("hook.sh"), w.path("env")], stderr_tail: "all good\n" });
    expect(Date.parse(h.started_at)).toBeGreaterThanOrEqual(Date.parse(run.finished_at));
    expect(hooks(w, "--limit", "1")).toHaveLength(1);
    expect(hooks(w, "--volume", "photos")).toHaveLength(2);
    expect(w.hoard("hooks", "--volume", "nope").code).toBe(2);
    expect(w.hoard("hooks").stdout).toContain("success");
  });

  test("non-zero exit is recorded failed with its code and stderr's tail; the index run still succeeds", () => {
    const w = hookWorld((w) => [script(w, "fail.sh", `head -c 10000 /dev/zero | tr '\\0' x >&2\necho >&2\necho "the end" >&2\nexit 3`)]);
    const r = w.hoard("index", "photos", "--json");
    expect(r.code).toBe(0);
    expect(r.json.status).toBe("success");
    expect(r.json.hook).toMatchObject({ status: "failed", exit_code: 3 });
    expect(r.stderr).toContain("the index run is unaffected");
    const [h] = hooks(w);
    expect(h).toMatchObject({ status: "failed", exit_code: 3, note: "exited with code 3" });
    expect(h.stderr_tail.length).toBeLessThanOrEqual(4096);
    expect(h.stderr_tail.length).toBeGreaterThan(4000);
    expect(h.stderr_tail.endsWith("the end\n")).toBe(true);
    expect(w.hoard("runs", "--kind", "index", "--json").json.runs[0].status).toBe("success");
  });

  test("a program that does not exist is recorded failed; the index run exits 0", () => {
    const w = hookWorld((w) => [w.path("no-such-hook"), "arg"]);
    const r = w.hoard("index", "photos", "--json");
    expect(r.code).toBe(0);
    expect(r.json.hook.status).toBe("failed");
    const [h] = hooks(w);
    expect(h.status).toBe("failed");
    expect(h.pid).toBeNull();
    expect(h.exit_code).toBeNull();
    expect(h.note).toContain("cannot start");
    expect(h.note).toContain("ENOENT");
  });

  test("timeout kills the whole process group (a child ignoring SIGTERM, with grandchildren) and is recorded", () => {
    // the hook ignores SIGTERM (inherited by its children), starts a grandchild and a
    // great-grandchild, records their pids, then waits
    const w = hookWorld(
      (w) => [
        script(
          w,
          "stuck.sh",
          `trap '' TERM\nsleep 300 &\necho $! > "$1/grandchild"\n/bin/sh -c 'sleep 300 & echo $! > "$1/greatgrandchild"; wait' sh "$1" &\necho "stuck" >&2\nwhile true; do sleep 1; done`,
        ),
        w.dir,
      ],
      { timeout: "1s" },
    );
    const t0 = Date.now();
    const r = w.hoard("index", "photos", "--json");
    const took = Date.now() - t0;
    expect(r.code).toBe(0);
    expect(r.json.hook.status).toBe("timeout");
    expect(took).toBeLessThan(30_000);
    const [h] = hooks(w);
    expect(h.status).toBe("timeout");
    expect(h.note).toContain("timed out after 1s");
    expect(h.signal).toBe("SIGKILL"); // SIGTERM was ignored
    expect(h.stderr_tail).toContain("stuck");
    const pids = ["grandchild", "greatgrandchild"].map((f) => Number(readFileSync(w.path(f), "utf8").trim()));
    for (const pid of [h.pid, ...pids]) expect(gone(pid)).toBe(true);
  });

  test("a hostile volume path (spaces, quotes, $(…)) reaches the hook verbatim; nothing is run by a shell", () => {
    const evil = `vol $(touch pwned) "; touch pwned2; " 'q' \`touch pwned3\``;
    const cwd = process.cwd();
    const pwned = ["pwned", "pwned2", "pwned3"].flatMap((f) => [join(cwd, f)]);
    try {
      const w = hookWorld((w) => [script(w, "path.sh", `printf '%s' "$HOARD_PATH" > "$1"\nprintf '%s' "$2" > "$1.arg"`), w.path("seen"), "$(touch pwned)"], { volDir: evil });
      const r = index(w);
      expect(r.hook.status).toBe("success");
      expect(readFileSync(w.path("seen"), "utf8")).toBe(w.path(evil));
      expect(readFileSync(w.path("seen.arg"), "utf8")).toBe("$(touch pwned)");
      for (const p of [...pwned, ...["pwned", "pwned2", "pwned3"].flatMap((f) => [w.path(f), join(w.path(evil), f)])]) expect(existsSync(p)).toBe(false);
    } finally {
      for (const p of pwned) rmSync(p, { force: true });
    }
  });

  test("a second hook for the volume while one runs is skipped and recorded; both index runs exit 0", async () => {
    const w = hookWorld((w) => [script(w, "slow.sh", `touch "$1/started.$HOARD_RUN_ID"\ni=0\nwhile [ ! -e "$1/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`), w.dir], { timeout: "1m" });
    const a = w.hoardAsync("index", "photos", "--json");
    const deadline = Date.now() + 30_000;
    const { readdirSync } = await import("node:fs");
    while (!readdirSync(w.dir).some((f) => f.startsWith("started.")) && Date.now() < deadline) await Bun.sleep(50);
    const b = w.hoard("index", "photos", "--json");
    expect(b.code).toBe(0);
    expect(b.json.hook.status).toBe("skipped");
    expect(b.stderr).toContain("skipped");
    writeFileSync(w.path("release"), ""); // let the first hook finish
    const ra = await a;
    expect(ra.code).toBe(0);
    expect(ra.json.hook.status).toBe("success");
    const rows = hooks(w);
    const skipped = rows.find((r) => r.status === "skipped");
    const ran = rows.find((r) => r.status === "success");
    expect(skipped.trigger_run).toBe(b.json.run_id);
    expect(skipped.note).toContain(`hook ${ran.id} of volume photos is still running`);
    expect(readdirSync(w.dir).filter((f) => f.startsWith("started."))).toEqual([`started.${ra.json.run_id}`]);
  });
});
