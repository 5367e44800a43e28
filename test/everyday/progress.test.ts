// Progress on a terminal: one line on stderr (phase, volume → destination, done/total, bytes, rate,
// ETA) rewritten in place, at most 10 times a second, cleared before the summary; off without a TTY or with --quiet.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { asyncFsWorld, cleanupWorlds, code } from "../e2e/lib.ts";
import { hoardCommand, type World } from "../helpers.ts";
import { clock, formatProgress, progressLine } from "../../src/cli/progress.ts";
import { meter, metered, past, slicer, tally, type ProgressEvent } from "../../src/ops/meter.ts";
import type { HandlerContext } from "../../src/kernel/plugin.ts";

setDefaultTimeout(240_000); // real hoard processes; the machine may be busy
afterAll(cleanupWorlds);

describe("formatProgress (pure)", () => {
  test("done/total with percent, bytes, byte rate and ETA, label and current path", () => {
    const line = formatProgress({ phase: "hash", label: "photos", done: 50, total: 200, bytes: 10 * 1048576, totalBytes: 40 * 1048576, current: "dir/x.jpg" }, 5000, 120);
    expect(line).toBe("hash photos  50/200 (25%)  10.0 MiB/40.0 MiB  2.0 MiB/s  ETA 0:15  dir/x.jpg");
  });
  test("files/s and an ETA from the files when no bytes are counted; the destination is named", () => {
    expect(formatProgress({ phase: "push", label: "photos → nas", done: 30, total: 90 }, 10_000)).toBe("push photos → nas  30/90 (33%)  3.0 files/s  ETA 0:20");
  });
  test("no total (a walk): the count and the time spent; nothing at all for a run that just began", () => {
    expect(formatProgress({ phase: "walk", done: 0 }, 0)).toBe("walk  0:00");
    expect(formatProgress({ phase: "walk", done: 12 }, 2000)).toBe("walk  12  6.0 files/s  0:02");
    expect(formatProgress({ phase: "sync", label: "photos → nas", done: 0 }, 65_000)).toBe("sync photos → nas  1:05");
  });
  test("no rate in the first half second (it would mean nothing); done = total: no ETA, the time spent", () => {
    expect(formatProgress({ phase: "restore", done: 3, total: 9 }, 100)).toBe("restore  3/9 (33%)  0:00");
    expect(formatProgress({ phase: "verify", done: 9, total: 9 }, 3000)).toBe("verify  9/9 (100%)  3.0 files/s  0:03");
  });
  test("fits the terminal: the current path is cut from its start, never wrapped; control characters are not printed", () => {
    const line = formatProgress({ phase: "push", label: "photos → nas", done: 1, total: 2, current: "a/very/long/path/".repeat(10) + "last\nname.jpg" }, 1000, 75);
    expect([...line].length).toBe(74);
    expect(line).toEndWith("last?name.jpg");
    expect(line).toContain("…");
    expect([...formatProgress({ phase: "x".repeat(200), done: 1 }, 0, 40)].length).toBe(39);
  });
  test("the rate counts from the phase's first event; counted bytes decide the ETA (none once all are sent)", () => {
    expect(formatProgress({ phase: "push", done: 1, total: 2, bytes: 3 * 1048576, totalBytes: 5 * 1048576 }, 2000, 80, { done: 0, bytes: 1048576 })).toBe("push  1/2 (50%)  3.0 MiB/5.0 MiB  1.0 MiB/s  ETA 0:02");
    expect(formatProgress({ phase: "push", done: 1, total: 2, bytes: 5 * 1048576, totalBytes: 5 * 1048576 }, 4000, 80, { done: 0, bytes: 1048576 })).toBe("push  1/2 (50%)  5.0 MiB/5.0 MiB  1.0 MiB/s  0:04");
  });
  test("durations", () => {
    expect([clock(0), clock(7_400), clock(754_000), clock(3_720_000)]).toEqual(["0:00", "0:07", "12:34", "1h02m"]);
  });
});

describe("progressLine (a fake clock and terminal)", () => {
  const fake = () => {
    let t = 1000;
    const out: string[] = [];
    const line = progressLine({ write: (s) => void out.push(s), now: () => t, columns: () => 80, label: () => "photos → nas" });
    return { line, out, advance: (ms: number) => (t += ms) };
  };
  test("at most 10 redraws a second, however many events", () => {
    const f = fake();
    for (let i = 1; i <= 1000; i++) {
      f.line.update({ phase: "hash", done: i, total: 1000 });
      f.advance(1); // 1000 events in one second
    }
    expect(f.out.length).toBeGreaterThanOrEqual(9);
    expect(f.out.length).toBeLessThanOrEqual(11);
    for (const s of f.out) expect(s).toStartWith("\r\x1b[Khash photos → nas  ");
  });
  test("a held-back event is drawn by the next tick; a quiet phase is redrawn every second (its time moves)", () => {
    const f = fake();
    f.line.update({ phase: "push", done: 1, total: 4 });
    f.line.update({ phase: "push", done: 2, total: 4 });
    expect(f.out).toHaveLength(1);
    f.line.tick();
    expect(f.out).toHaveLength(1); // too soon
    f.advance(150);
    f.line.tick();
    expect(f.out[1]).toContain("2/4");
    f.advance(400);
    f.line.tick();
    expect(f.out).toHaveLength(2); // nothing new, under a second
    f.advance(700);
    f.line.tick();
    expect(f.out).toHaveLength(3);
  });
  test("clear erases only a drawn line, and stops the redraws until the next event", () => {
    const f = fake();
    f.line.clear();
    expect(f.out).toEqual([]);
    f.line.update({ phase: "walk", done: 0 });
    f.line.clear();
    expect(f.out.at(-1)).toBe("\r\x1b[K");
    f.advance(5000);
    f.line.tick();
    expect(f.out.at(-1)).toBe("\r\x1b[K");
    expect(f.line.drawn).toBe(false);
  });
  test("the time of a phase starts at its first event", () => {
    const f = fake();
    f.line.update({ phase: "walk", done: 0 });
    f.advance(30_000);
    f.line.update({ phase: "hash", done: 10, total: 20 });
    expect(f.out.at(-1)).toContain("0:00");
    f.advance(5000);
    f.line.update({ phase: "hash", done: 15, total: 20 });
    expect(f.out.at(-1)).toContain("1.0 files/s  ETA 0:05"); // 5 files in 5 s since its first event (which had 10)
  });
});

describe("bytes and destination counted in the ops layer (src/ops/meter.ts)", () => {
  const entries = [
    { path: "a", size: 100 },
    { path: "b", size: 200n },
    { path: "c", size: 700 },
  ];
  const sink = () => {
    const got: ProgressEvent[] = [];
    return { got, put: (p: ProgressEvent) => void got.push(p) };
  };
  test("a handler's events over the entries get the sizes of the entries they name as done, and the destination", () => {
    const s = sink();
    const m = meter(s.put, entries, "nas");
    m({ phase: "push", done: 1, total: 3, current: "b" });
    m({ phase: "push", done: 1, total: 3, current: "b" }); // named again: counted once
    m({ phase: "push", done: 2, total: 3, current: "a" });
    m({ phase: "push", done: 2, total: 3 }); // names none
    m({ phase: "push", done: 3, total: 3 }); // all done: all their bytes
    expect(s.got.map((p) => [p.done, p.total, p.bytes, p.totalBytes, p.destination])).toEqual([
      [1, 3, 200, 1000, "nas"],
      [1, 3, 200, 1000, "nas"],
      [2, 3, 300, 1000, "nas"],
      [2, 3, 300, 1000, "nas"],
      [3, 3, 1000, 1000, "nas"],
    ]);
  });
  test("a new phase counts afresh; an event with its own bytes, or counting something else, keeps its numbers", () => {
    const s = sink();
    const m = meter(s.put, entries, "nas");
    m({ phase: "push", done: 1, total: 3, current: "c" });
    m({ phase: "read back", done: 1, total: 3, current: "a" });
    m({ phase: "listing", done: 5, total: 10, current: "c" });
    m({ phase: "push", done: 2, total: 3, bytes: 42, totalBytes: 99 });
    expect(s.got.map((p) => [p.phase, p.done, p.total, p.bytes, p.totalBytes, p.destination])).toEqual([
      ["push", 1, 3, 700, 1000, "nas"],
      ["read back", 1, 3, 100, 1000, "nas"],
      ["listing", 5, 10, undefined, undefined, "nas"],
      ["push", 2, 3, 42, 99, "nas"],
    ]);
  });
  test("a batch of a larger job: its events are moved onto the job's counts", () => {
    const more = [{ path: "d", size: 1 }, { path: "e", size: 2 }];
    const at = slicer([...entries, ...more]);
    expect(at(0)).toEqual({ done: 0, bytes: 0, total: 5, totalBytes: 1003 });
    expect(at(3)).toEqual({ done: 3, bytes: 1000, total: 5, totalBytes: 1003 });
    expect(past(at(0), entries)).toEqual(at(3));
    const s = sink();
    const m = meter(s.put, more, "usb", at(3));
    m({ phase: "confirm", done: 1, total: 2, current: "e" });
    m({ phase: "confirm", done: 2, total: 2, bytes: 3, totalBytes: 3 });
    expect(s.got.map((p) => [p.done, p.total, p.bytes, p.totalBytes, p.destination])).toEqual([
      [4, 5, 1002, 1003, "usb"],
      [5, 5, 1003, 1003, "usb"],
    ]);
  });
  test("metered: an event before the handler's call and one after it, so a handler that reports nothing is still shown", async () => {
    const s = sink();
    const hctx = { progress: s.put } as unknown as HandlerContext;
    const silent = await metered(hctx, { phase: "confirm", entries, destination: "nas" }, async () => ["x"]);
    expect(silent).toEqual(["x"]);
    const talks = await metered(hctx, { phase: "push", entries, destination: "nas" }, async function* (c) {
      c.progress({ phase: "push", done: 1, total: 3, current: "c" });
      yield "y";
    });
    expect(talks).toEqual(["y"]);
    expect(s.got.map((p) => [p.phase, p.done, p.bytes, p.totalBytes, p.destination])).toEqual([
      ["confirm", 0, 0, 1000, "nas"],
      ["confirm", 3, 1000, 1000, "nas"],
      ["push", 0, 0, 1000, "nas"],
      ["push", 1, 700, 1000, "nas"],
      ["push", 3, 1000, 1000, "nas"],
    ]);
  });
  test("tally: work done item by item in the ops layer (a restore's files)", () => {
    const s = sink();
    const t = tally(s.put, "restore", entries);
    t.step(entries[1]!, "nas");
    t.step(entries[0]!);
    expect(s.got).toEqual([
      { phase: "restore", done: 1, total: 3, bytes: 200, totalBytes: 1000, current: "b", destination: "nas" },
      { phase: "restore", done: 2, total: 3, bytes: 300, totalBytes: 1000, current: "a" },
    ]);
  });
});

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `hoard ARGS` of world w with a terminal (util-linux `script` gives it a pty): its exit code and what the terminal received. */
function onTty(w: World, ...args: string[]): Promise<{ code: number; out: string }> {
  return onTtyWith(w, {}, ...args);
}

/** onTty with extra environment variables. */
function onTtyWith(w: World, env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> {
  const cmd = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args].map(shq).join(" ");
  return new Promise((resolve) => {
    const c = spawn("script", ["-qfec", cmd, "/dev/null"], { env: { ...w.env, TERM: "xterm", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

/** The lines a terminal shows for raw output: \r returns to the line's start, ESC[K erases to its end. */
function screen(raw: string): string[] {
  const lines: string[] = [];
  let cur: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (raw.startsWith("\x1b[K", i)) {
      cur.length = col;
      i += 2;
    } else if (ch === "\r") col = 0;
    else if (ch === "\n") {
      lines.push(cur.join(""));
      cur = [];
      col = 0;
    } else cur[col++] = ch;
  }
  if (cur.length) lines.push(cur.join(""));
  return lines;
}

const PROGRESS = /\r\x1b\[K(walk|hash|index|sync|push|verify)\b/;
const FILES = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`d${i % 7}/f${i}.bin`, `file ${i}\n`.repeat(200 + i)]));

describe("on a terminal, under script", () => {
  test("index and sync show progress naming the volume and the destination; the line is cleared before the summary", async () => {
    const w = await asyncFsWorld({ files: FILES });
    const ix = await onTty(w, "index", "photos");
    expect(ix.code).toBe(0);
    expect(ix.out).toMatch(PROGRESS);
    expect(ix.out).toContain("index photos  "); // the run's line, before its first phase reports
    const shown = screen(ix.out);
    // nothing of the progress line is left on the screen: the summary starts its own line
    expect(shown.find((l) => l.includes("(run "))).toMatch(/^index photos \(run \d+\): success$/);
    for (const l of shown) expect(l).not.toMatch(/\d+:\d\d$|ETA /);

    const sy = await onTty(w, "sync", "photos");
    expect(sy.code).toBe(0);
    expect(sy.out).toContain("\r\x1b[Ksync photos → nas  "); // the destination is named
    const s2 = screen(sy.out);
    expect(s2.find((l) => l.includes("(run "))).toMatch(/^sync photos → nas \(run \d+\): success$/);
    for (const l of s2) expect(l).not.toMatch(/\d+:\d\d$|ETA /);
  });

  test("an offload's summary and an error start lines of their own too", async () => {
    const w = await asyncFsWorld({ files: FILES });
    code(await w.hoardAsync("index", "photos"), 0);
    const r = await onTty(w, "offload", "photos", ".");
    expect(r.code).toBe(0); // kept: never synced (a decision, not an error) — its summary is clean
    for (const l of screen(r.out)) expect(l).not.toMatch(/\d+:\d\d$|ETA /);
    const bad = await onTty(w, "sync", "photos", "--to", "nowhere");
    expect(bad.code).toBe(2);
    expect(screen(bad.out).find((l) => l.includes("error:"))).toMatch(/^error: unknown destination nowhere/);
  });

  test("--quiet and --json: no progress at all", async () => {
    const w = await asyncFsWorld({ files: FILES });
    const q = await onTty(w, "index", "photos", "--quiet");
    expect(q.code).toBe(0);
    expect(q.out).not.toContain("\x1b[K");
    const j = await onTty(w, "sync", "photos", "-q", "--json");
    expect(j.code).toBe(0);
    expect(j.out).not.toContain("\x1b[K");
    const doc = j.out.replace(/\r\n/g, "\n");
    expect(JSON.parse(doc.slice(doc.indexOf("{"), doc.lastIndexOf("}") + 1)).results[0].status).toBe("success");
  });
});

test.concurrent("without a terminal (pipes): no progress on stderr", async () => {
  const w = await asyncFsWorld({ files: FILES });
  const ix = code(await w.hoardAsync("index", "photos"), 0);
  const sy = code(await w.hoardAsync("sync", "photos"), 0);
  for (const r of [ix, sy]) {
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("\x1b[K");
    expect(r.stdout).not.toContain("\x1b[K");
  }
});

/** What was drawn: each text written after an erase (\r ESC[K) up to the next one, when it starts no line of its own (a summary, a message). */
const frames = (raw: string) => raw.split("\r\x1b[K").slice(1).filter((x) => x !== "" && !x.includes("\n"));
/** Erases that are not followed by a frame (before a summary or a message): after one, the next frame may come at once. */
const clears = (raw: string) => raw.split("\r\x1b[K").slice(1).filter((x) => x === "" || x.includes("\n")).length;

const MANY = Object.fromEntries(Array.from({ length: 240 }, (_, i) => [`d${i % 5}/f${i}.bin`, `file ${i}\n`.repeat(100 + i)]));
const N = "[\\d.]+ (?:B|KiB|MiB)";
/** A frame with everything: label, done/total with percent, bytes of their total, a byte rate and an ETA. */
const full = (phase: string, label: string) => new RegExp(`^${phase} ${label}  \\d+/240 \\(\\d+%\\)  ${N}/${N}  ${N}/s  ETA \\d+:\\d\\d`);

/** The first frame of `phase` that matches `re` (else all of that phase's frames, for the failure message). */
function frameOf(out: string, phase: string, re: RegExp): string {
  const mine = frames(out).filter((f) => f.startsWith(`${phase} `));
  return mine.find((f) => re.test(f)) ?? `no match among ${mine.length} frames of ${phase}, e.g.:\n${mine.slice(0, 8).join("\n")}`;
}

describe("every long phase on a terminal (a virtual clock: HOARD_TEST_PROGRESS_STEP_MS)", () => {
  // the line's clock moves 100 ms at each reading, so each event is drawn and a rate shows from the
  // phase's third one, whatever the machine's speed
  const STEP = { HOARD_TEST_PROGRESS_STEP_MS: "100", HOARD_OFFLOAD_BATCH: "20" };
  test("walk, push, verify, confirm, offload and restore show done/total, bytes, rate, ETA and the destination; each summary starts its own line", async () => {
    const w = await asyncFsWorld({ files: MANY });
    const summary = (out: string) => screen(out).find((l) => l.includes("(run "));

    const ix = await onTtyWith(w, STEP, "index", "photos");
    expect(ix.code).toBe(0);
    // a first walk has no total to show (nothing was indexed before): the count, bytes and their rate
    const first = new RegExp(`^walk photos  \\d+  ${N}  ${N}/s  \\d+:\\d\\d`);
    expect(frameOf(ix.out, "walk", first)).toMatch(first);
    // small files are hashed in the walk (its frames count their bytes); only files of 1 MiB or more have a hash phase
    expect(frames(ix.out).filter((f) => f.startsWith("hash "))).toEqual([]);
    expect(summary(ix.out)).toMatch(/^index photos \(run \d+\): success$/);
    // a walk again: the last index's count is its total, and the files/s rate gives an ETA
    const again = await onTtyWith(w, STEP, "index", "photos");
    expect(again.code).toBe(0);
    const walk = new RegExp(`^walk photos  \\d+/240 \\(\\d+%\\)  ${N}  ${N}/s  ETA \\d+:\\d\\d`);
    expect(frameOf(again.out, "walk", walk)).toMatch(walk);

    const sy = await onTtyWith(w, STEP, "sync", "photos");
    expect(sy.code).toBe(0);
    expect(frameOf(sy.out, "push", full("push", "photos → nas"))).toMatch(full("push", "photos → nas"));
    expect(summary(sy.out)).toMatch(/^sync photos → nas \(run \d+\): success$/);

    const ve = await onTtyWith(w, STEP, "verify", "nas", "photos");
    expect(ve.code).toBe(0);
    expect(frameOf(ve.out, "verify", full("verify", "photos → nas"))).toMatch(full("verify", "photos → nas"));
    expect(summary(ve.out)).toMatch(/^verify photos → nas \(run \d+\): success$/);

    const of = await onTtyWith(w, STEP, "offload", "photos", ".");
    expect(of.code).toBe(0);
    // confirmations batch by batch (20 files each) count over the whole offload, naming the destination asked
    expect(frameOf(of.out, "confirm", full("confirm", "photos → nas"))).toMatch(full("confirm", "photos → nas"));
    expect(frameOf(of.out, "offload", full("offload", "photos → nas"))).toMatch(full("offload", "photos → nas"));
    expect(summary(of.out)).toMatch(/^offload photos \(run \d+\): success$/);

    // restored quietly: nothing drawn; the rest on the terminal
    const quiet = await onTtyWith(w, STEP, "restore", "photos", "d0", "--quiet");
    expect(quiet.code).toBe(0);
    expect(quiet.out).not.toContain("\x1b[K");
    const re = await onTtyWith(w, STEP, "restore", "photos", ".");
    expect(re.code).toBe(0);
    const restore = new RegExp(`^restore photos → nas  \\d+/192 \\(\\d+%\\)  ${N}/${N}  ${N}/s  ETA \\d+:\\d\\d`);
    expect(frameOf(re.out, "restore", restore)).toMatch(restore);
    expect(summary(re.out)).toMatch(/^restore photos \(run \d+\) into .*: success$/);

    // nothing of a progress line is left on any screen line
    for (const r of [ix, again, sy, ve, of, re]) for (const l of screen(r.out)) expect(l).not.toMatch(/ETA \d+:\d\d|\d+:\d\d$/);
  });
});

test.concurrent("the real clock: at most 10 frames a second (frames counted against the command's time), and the summary on its own line", async () => {
  const w = await asyncFsWorld({ files: MANY });
  for (const args of [["index", "photos"], ["sync", "photos"], ["verify", "nas", "photos"]]) {
    const t0 = performance.now();
    const r = await onTty(w, ...args);
    const secs = (performance.now() - t0) / 1000;
    expect(r.code).toBe(0);
    const drawn = frames(r.out);
    expect(drawn.length).toBeGreaterThan(0);
    // one frame at once after each erase, then at least 100 ms between two
    expect(drawn.length).toBeLessThanOrEqual(Math.ceil(10 * secs) + 1 + clears(r.out));
    expect(screen(r.out).find((l) => l.includes("(run "))).toMatch(/^(index|sync|verify) photos( → nas)? \(run \d+\): success$/);
  }
});

test.concurrent("without a terminal (pipes): an offload and a restore draw nothing either", async () => {
  const w = await asyncFsWorld({ files: FILES });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  const of = code(await w.hoardAsync("offload", "photos", "."), 0);
  const re = code(await w.hoardAsync("restore", "photos", "."), 0);
  for (const r of [of, re]) for (const s of [r.stdout, r.stderr]) expect(s).not.toMatch(/\r|\x1b\[K/);
});
