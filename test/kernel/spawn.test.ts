// spawnTool: stdout through an unlinked temporary file (large outputs exact, lines, limits, no file
// left behind), and killStrays (no child outlives a command, its process group killed).

import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { killStrays, spawnTool } from "../../src/kernel/spawn.ts";
import { stopped } from "../helpers.ts";

const leftovers = () => readdirSync(tmpdir()).filter((n) => n.startsWith("hoard-out-"));

describe("stdoutToFile", () => {
  test("a large output (far past a pipe buffer) arrives whole and exact, stderr still streams, no temp file is left", async () => {
    const before = leftovers().length;
    const lines: string[] = [];
    const errs: string[] = [];
    // 200,000 numbered lines (~1.5 MB) and some UTF-8 split across reads
    const script = 'i=0; while [ $i -lt 200000 ]; do echo "line $i ü"; i=$((i+1)); done; echo oops >&2; exit 3';
    const r = await spawnTool("sh", ["-c", script], { stdoutToFile: true, onStdoutLine: (l) => lines.push(l), onStderrLine: (l) => errs.push(l) });
    expect(r.code).toBe(3);
    const want = Array.from({ length: 200000 }, (_, i) => `line ${i} ü`);
    expect(r.stdout).toBe(want.join("\n") + "\n");
    expect(lines).toEqual(want);
    expect(errs).toEqual(["oops"]);
    expect(r.stderr).toBe("oops\n");
    expect(leftovers().length).toBe(before);
  });

  test("maxStdout keeps at most that many characters; stdin still reaches the command", async () => {
    const r = await spawnTool("sh", ["-c", "cat; printf 0123456789"], { stdoutToFile: true, stdin: "in:", maxStdout: 5 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("in:01");
  });

  test("a command that cannot start rejects, and closes its file", async () => {
    const before = leftovers().length;
    await expect(spawnTool("/nonexistent/hoard-no-such-tool", [], { stdoutToFile: true })).rejects.toThrow();
    expect(leftovers().length).toBe(before);
  });

  test("the same output through a pipe and through a file are equal", async () => {
    const script = 'printf "a\\nb\\n\\nc"';
    const a = await spawnTool("sh", ["-c", script]);
    const b = await spawnTool("sh", ["-c", script], { stdoutToFile: true });
    expect(b.stdout).toBe(a.stdout);
    expect(b.stdout).toBe("a\nb\n\nc");
  });
});

describe("killStrays", () => {
  test("kills every child still running, with its process group; finished ones are not counted", async () => {
    await spawnTool("true", []);
    // a child that starts a grandchild in its group; both would sleep for a minute
    const p = spawnTool("sh", ["-c", "sleep 60 & echo $!; sleep 60"], { onStdoutLine: (l) => (grandchild = Number(l)) });
    let grandchild = 0;
    for (let i = 0; i < 100 && !grandchild; i++) await Bun.sleep(20);
    expect(grandchild).toBeGreaterThan(0);
    expect(killStrays()).toBe(1);
    const r = await p;
    expect(r.signal).toBe("SIGKILL");
    expect(await stopped(grandchild)).toBe(true);
    expect(killStrays()).toBe(0);
  });
});

describe("hook-style runs", () => {
  test("timeoutMs stops the whole process group (SIGTERM ignored: SIGKILL after the grace), reports timedOut and the pid", async () => {
    let pid = 0;
    let grandchild = 0;
    const r = await spawnTool("sh", ["-c", "trap '' TERM; sleep 60 & echo $! >&2; while true; do sleep 1; done"], {
      timeoutMs: 300,
      killGraceMs: 200,
      onStart: (p) => (pid = p),
      onStderrLine: (l) => (grandchild = Number(l)),
    });
    expect(pid).toBeGreaterThan(0);
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
    expect(grandchild).toBeGreaterThan(0);
    expect(await stopped(grandchild)).toBe(true);
  });

  test("a command done before its deadline is not timed out; inheritEnv false gives exactly env; discardStdout keeps no stdout", async () => {
    process.env.HOARD_SPAWN_TEST_INHERITED = "yes";
    try {
      const r = await spawnTool("/bin/sh", ["-c", 'echo "[$HOARD_SPAWN_TEST_INHERITED][$ONLY]" >&2; echo out'], { env: { ONLY: "this" }, inheritEnv: false, discardStdout: true, timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      expect(r.timedOut).toBeUndefined();
      expect(r.stderr).toBe("[][this]\n");
      expect(r.stdout).toBe("");
      const inherited = await spawnTool("/bin/sh", ["-c", 'echo "[$HOARD_SPAWN_TEST_INHERITED]"']);
      expect(inherited.stdout).toBe("[yes]\n");
    } finally {
      delete process.env.HOARD_SPAWN_TEST_INHERITED;
    }
  });
});
