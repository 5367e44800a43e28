// rclone interrupted mid-transfer: by the run's AbortSignal (nothing is claimed) and by an outside
// SIGKILL (only what the listing independently proves is claimed; the copy failure is reported).

import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanup, FAKE_RCLONE, REAL_RCLONE, makeCtx, makeVolume, open, outcomes, tmp } from "./harness.ts";

// rclone starts in ~0.2 s and the machine may be busy: give each test room
setDefaultTimeout(180_000);
afterAll(cleanup);

const BIG = 24 * 1024 * 1024;
// slow the copy down so it is still running when it is interrupted
const SLOW = { RCLONE_BWLIMIT: "4M" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 20000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe("rclone interrupted mid-transfer", () => {
  test("abort through ctx.signal: rclone dies, and no entry is ok", async () => {
    const remote = tmp();
    const vol = makeVolume({ "big.bin": randomBytes(BIG), "small.txt": "small" });
    const { handler } = open({ remote }, SLOW);
    const ctx = makeCtx(vol);
    const started = Date.now();
    const pending = outcomes(handler.push(vol.manifest, ctx));
    await until("bytes to arrive", () => {
      const p = join(remote, "vol", "big.bin");
      return existsSync(p) && statSync(p).size > 0;
    });
    ctx.abort.abort();
    const res = await pending;
    expect(Date.now() - started).toBeLessThan(BIG / (4 * 1024 * 1024) * 1000);
    expect(res.size).toBe(2);
    for (const o of res.values()) expect(o.ok).toBe(false);
    expect(statSync(join(remote, "vol", "big.bin")).size).toBeLessThan(BIG);
  });

  test("an outside SIGKILL: the copy failure is reported, the partial file is not ok, proven files are", async () => {
    const remote = tmp();
    const pidfile = join(tmp(), "pid");
    const vol = makeVolume({ "big.bin": randomBytes(BIG), "small.txt": "small" });
    const { handler } = open({ remote, binary: FAKE_RCLONE }, { ...SLOW, HOARD_FAKE_RCLONE_MODE: "pidfile", HOARD_FAKE_RCLONE_PIDFILE: pidfile, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const ctx = makeCtx(vol);
    const pending = outcomes(handler.push(vol.manifest, ctx));
    await until("the copy to start", () => existsSync(pidfile) && readFileSync(pidfile, "utf8").trim() !== "");
    await until("bytes to arrive", () => {
      const p = join(remote, "vol", "big.bin");
      return existsSync(p) && statSync(p).size > 0 && existsSync(join(remote, "vol", "small.txt"));
    });
    process.kill(Number(readFileSync(pidfile, "utf8").trim()), "SIGKILL"); // the rclone this test started
    const res = await pending;
    expect(res.get("big.bin")!.ok).toBe(false);
    expect(res.get("small.txt")).toMatchObject({ ok: true, method: "sha256" });
    expect(ctx.warnings.some((w) => w.includes("killed"))).toBe(true);
    for (const e of vol.manifest) {
      const o = res.get(e.path)!;
      if (o.ok) expect(readFileSync(join(remote, "vol", e.path))).toEqual(readFileSync(join(vol.root, e.path)));
    }
  });
});
