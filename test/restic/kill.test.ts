// The restic child SIGKILLed in the middle of a backup (by its pid, from outside hoard): the push
// claims nothing, leaves no snapshot, and the next push holds and verifies everything.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/restic/index.ts";
import type { FileOutcome, ManifestEntry } from "../../src/kernel/plugin.ts";
import { cleanup, collect, makeCtx, openType, tmp, typeOf, Volume } from "../contract/harness.ts";

afterAll(cleanup);
const type = typeOf(plugin, "restic");

/** Pids of this process's children whose command line contains every word. */
function children(...words: string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (words.every((w) => argv.includes(w))) out.push(Number(d));
    } catch {}
  }
  return out;
}

test(
  "SIGKILL of restic during backup: no ok outcome, no snapshot; a re-run holds everything",
  async () => {
    const dir = tmp("hoard-restic-kill-");
    const repo = join(dir, "repo");
    mkdirSync(repo);
    const secret = `kill-pw-${Math.random().toString(36).slice(2)}`;
    const h = () => openType(type, { repository: repo, password: secret }, join(dir, "state"));
    await h().init();
    const vol = new Volume();
    const m: ManifestEntry[] = [];
    const big = new Uint8Array(160 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    m.push(vol.write("big.bin", big));
    for (let i = 0; i < 20; i++) m.push(vol.write(`s/${i}.txt`, `small ${i}\n`));
    let killed: number[] = [];
    const ctx = makeCtx(vol, {
      onProgress: (p) => {
        if (p.phase !== "restic backup" || killed.length > 0) return;
        killed = children("backup");
        for (const pid of killed) process.kill(pid, "SIGKILL");
      },
    });
    let out: FileOutcome[] = [];
    let err: any;
    try {
      out = await collect(h().push(m, ctx));
    } catch (e) {
      err = e;
    }
    expect(killed.length).toBe(1);
    expect(out.filter((o) => o.ok)).toEqual([]);
    expect(String(err?.message)).toContain("killed");
    expect(String(err?.message)).not.toContain(secret);
    // restic saved no snapshot
    const snaps = readdirSync(join(repo, "snapshots"));
    expect(snaps).toEqual([]);
    const again = await collect(h().push(m, makeCtx(vol, { runId: 2n })));
    expect(again.length).toBe(m.length);
    for (const o of again) expect({ path: o.path, ok: o.ok }).toEqual({ path: o.path, ok: true });
  },
  600_000,
);
