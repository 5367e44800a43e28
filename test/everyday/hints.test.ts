// `next:` hints name the real cause (issue 14, item 7), through the CLI against real `rclone serve
// webdav`: storage wiped while the server is up (through it, or behind its back) → wiped / dest reset;
// the server gone → a connection step; a wrong password → a credentials step. Never one for the other.

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, obscure, serve, REAL_RCLONE, type Server } from "../rclone/harness.ts";
import { cleanupWorlds, rcloneWorld, type RWorld } from "../rclone-e2e/lib.ts";

setDefaultTimeout(240_000);

const PASS = "dav-Pa55word-" + Math.random().toString(36).slice(2);
let dav: Server;
const servers: Server[] = [];
beforeAll(async () => {
  dav = await serve("webdav", { RCLONE_USER: "hoard", RCLONE_PASS: PASS });
  servers.push(dav);
});
afterAll(() => {
  for (const s of servers)
    try {
      s.stop();
    } catch {}
  cleanupWorlds();
  cleanup();
});

/** The env defining remote DAV for a server on `port` (fail fast: no retries against a dead address). */
const davEnv = (port: number, pass = PASS) => ({
  RCLONE_CONFIG_DAV_TYPE: "webdav",
  RCLONE_CONFIG_DAV_URL: `http://127.0.0.1:${port}/`,
  RCLONE_CONFIG_DAV_USER: "hoard",
  RCLONE_CONFIG_DAV_PASS: obscure(pass),
  RCLONE_LOW_LEVEL_RETRIES: "1",
  RCLONE_RETRIES: "1",
});

let n = 0;
/** A world synced to its own directory on the server; its storage directory on the server's disk. */
async function synced(): Promise<{ w: RWorld; storage: string; sub: string }> {
  const sub = `h${n++}`;
  const w = await rcloneWorld({ dest: () => ({ remote: `dav:${sub}`, verify: "download" }), env: davEnv(dav.port) });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  return { w, storage: join(dav.dir, sub), sub };
}

/** Error + hint of a --json failure, and the human `next:` line of the same command. */
async function failure(w: RWorld, codes: number[], ...args: string[]) {
  const j = await w.run(codes, ...args, "--json");
  const e = j.json.error ?? j.json.results?.[0]?.error;
  const human = await w.run(codes, ...args);
  return { e, text: `${e.message}\n${e.hint}`, human: human.stdout + human.stderr };
}

const doctorNext = async (w: RWorld) => (await w.run(1, "doctor", "--json")).json.destinations[0].next as string;

const CREDENTIALS = /credential|password|login/i;
const WIPED = /wiped|dest reset/i;
const CONNECTION = /nothing answers|start its server/i;

test.concurrent("storage wiped through the running server (marker gone): looks wiped, next: dest reset; never credentials or connection", async () => {
  const { w, sub } = await synced();
  const env = { ...process.env, RCLONE_CONFIG: w.path("rclone.conf"), ...davEnv(dav.port) };
  execFileSync(REAL_RCLONE, ["purge", `dav:${sub}`], { env, stdio: "pipe" });
  execFileSync(REAL_RCLONE, ["mkdir", `dav:${sub}`], { env, stdio: "pipe" });

  const f = await failure(w, [3], "sync", "photos");
  expect(f.e.code).toBe("dest_identity_changed");
  expect(f.e.message).toContain("looks wiped");
  expect(f.e.hint).toContain("hoard dest reset r --yes");
  expect(f.text).not.toMatch(CREDENTIALS);
  expect(f.text).not.toMatch(CONNECTION);
  expect(f.human).toContain("next: if it was wiped, run `hoard dest reset r --yes`");
  const next = await doctorNext(w);
  expect(next).toContain("hoard dest reset r --yes");
  expect(next).not.toMatch(CREDENTIALS);

  await w.run(0, "dest", "reset", "r", "--yes");
  await w.run(0, "sync", "photos");
});

test.concurrent("storage wiped behind the server's back (it still lists the marker, cannot send it): wiped / dest reset, not credentials; a restarted server shows it wiped", async () => {
  const { w, storage } = await synced();
  rmSync(storage, { recursive: true, force: true });
  mkdirSync(storage);

  const f = await failure(w, [1], "sync", "photos");
  expect(f.e.code).toBe("dest_marker_unreadable");
  expect(f.e.hint).toContain("wiped");
  expect(f.e.hint).toContain("hoard dest reset r --yes");
  expect(f.e.hint).toContain("Restart the server");
  expect(f.text).not.toMatch(CREDENTIALS);
  expect(f.text).not.toMatch(CONNECTION);
  expect(f.human).toMatch(/next: the server lists the identity marker but fails to send it: its storage was probably wiped/);
  const off = await w.run([1, 3], "offload", "photos", ".", "--json");
  expect(off.json.error.hint).toContain("hoard dest reset r --yes");
  expect(off.json.error.hint).not.toMatch(CREDENTIALS);
  const next = await doctorNext(w);
  expect(next).toContain("hoard dest reset r --yes");
  expect(next).not.toMatch(CREDENTIALS);

  // a fresh server on the same storage sees it as it is: reachable, marker gone → looks wiped
  const again = await serveOn(dav.dir);
  Object.assign(w.env, davEnv(again.port));
  const g = await failure(w, [3], "sync", "photos");
  expect(g.e.code).toBe("dest_identity_changed");
  expect(g.e.message).toContain("looks wiped");
  expect(g.e.hint).toContain("hoard dest reset r --yes");
});

test.concurrent("server gone: a connection step (start it, fix its address), never wiped, reset or credentials", async () => {
  const { w } = await synced();
  Object.assign(w.env, davEnv(await freePort()));
  for (const args of [["sync", "photos"], ["verify", "r"]]) {
    const f = await failure(w, [1], ...args);
    expect(f.e.code).toBe("dest_unreachable");
    expect(f.e.message).toContain("connection refused");
    expect(f.e.hint).toMatch(CONNECTION);
    expect(f.text).not.toMatch(WIPED);
    expect(f.text).not.toMatch(CREDENTIALS);
    expect(f.human).toContain("next: nothing answers at the remote's address");
  }
  const next = await doctorNext(w);
  expect(next).toMatch(CONNECTION);
  expect(next).not.toMatch(WIPED);
  expect(next).not.toMatch(CREDENTIALS);
});

test.concurrent("wrong password: a credentials step, never wiped, reset or connection", async () => {
  const { w } = await synced();
  Object.assign(w.env, davEnv(dav.port, "not-the-password"));
  for (const args of [["sync", "photos"], ["verify", "r"]]) {
    const f = await failure(w, [1], ...args);
    expect(f.e.message).toContain("401");
    expect(f.e.hint).toContain("the remote refused the login");
    expect(f.e.hint).toContain("password");
    expect(f.text).not.toMatch(WIPED);
    expect(f.text).not.toMatch(CONNECTION);
    expect(f.text).not.toContain("not-the-password");
    expect(f.human).toContain("next: the remote refused the login");
  }
  const next = await doctorNext(w);
  expect(next).toContain("the remote refused the login");
  expect(next).not.toMatch(WIPED);
});

/** Another `rclone serve webdav` (same login) serving `dir` with a fresh view of it (no cached listing). */
async function serveOn(dir: string): Promise<Server> {
  const s = await serve("webdav", { RCLONE_USER: "hoard", RCLONE_PASS: PASS }, dir);
  servers.push(s);
  return s;
}
