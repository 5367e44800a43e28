// Spawning child processes without a shell: argv arrays, environment-only secrets, both output
// streams captured whole (line callbacks as they arrive), abort kills the process group.

import { spawn as nodeSpawn } from "node:child_process";
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpawnResult } from "./plugin.ts";

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  signal?: AbortSignal;
  stdin?: string;
  onStderrLine?(line: string): void;
  onStdoutLine?(line: string): void;
  /** Keep at most this many characters of stdout (default unlimited). */
  maxStdout?: number;
  /**
   * Send stdout to a private, already unlinked temporary file and read it once the command has
   * exited, instead of through a pipe. For large outputs (a listing of 100,000 objects) this is
   * far cheaper: a pipe makes the child wait on a 64 KiB buffer and the parent pay per chunk.
   * onStdoutLine is then called for every line after the command exits.
   */
  stdoutToFile?: boolean;
  /**
   * Every chunk of stdout as raw bytes, as it arrives (e.g. a file streamed back to be hashed);
   * stdout is then not kept in the result.
   */
  onStdoutData?(chunk: Uint8Array): void;
}

/** An unlinked temporary file open for reading and writing: nothing is left behind, even on a crash. */
function anonymousFile(): number {
  const dir = mkdtempSync(join(tmpdir(), "hoard-out-"));
  try {
    return openSync(join(dir, "stdout"), "w+", 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Everything written to the file behind fd (positioned reads: the shared offset is the child's). */
function readAll(fd: number, max: number | undefined): string {
  const size = Number(fstatSync(fd).size);
  const want = max === undefined ? size : Math.min(size, max * 4);
  const buf = Buffer.allocUnsafe(want);
  let off = 0;
  while (off < want) {
    const n = readSync(fd, buf, off, want - off, off);
    if (n === 0) break;
    off += n;
  }
  const s = buf.toString("utf8", 0, off);
  return max === undefined ? s : s.slice(0, max);
}

function lineSplitter(cb: ((l: string) => void) | undefined) {
  let buf = "";
  return {
    push(s: string) {
      if (!cb) return;
      buf += s;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        cb(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    },
    end() {
      if (cb && buf) cb(buf);
      buf = "";
    },
  };
}

/** Children still running, so none outlives hoard (see killStrays). */
const live = new Set<{ pid?: number; kill(sig?: any): unknown }>();

function killGroup(child: { pid?: number; kill(sig?: any): unknown }): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/**
 * Kill every child still running (its whole process group) and return how many there were. The
 * CLI calls this when a command is done, so work started speculatively (a handler's warm-up
 * listing for a push that was then refused) neither keeps hoard waiting nor outlives it.
 */
export function killStrays(): number {
  const n = live.size;
  for (const c of live) killGroup(c);
  live.clear();
  return n;
}
process.on("exit", () => void killStrays());

/** The child's environment: hoard's own, overlaid with the call's (undefined removes a variable). */
function childEnv(o: SpawnOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries({ ...process.env, ...(o.env ?? {}) })) if (val !== undefined) env[k] = val;
  return env;
}

/** Run a command to completion. Rejects only when the command cannot be started. */
export function spawnTool(cmd: string, args: string[], o: SpawnOptions = {}): Promise<SpawnResult> {
  const bun = (globalThis as any).Bun;
  return bun?.spawn ? spawnBun(bun, cmd, args, o) : spawnNode(cmd, args, o);
}

/** Follows a file a child writes to: each poll hands on the bytes that arrived since the last one. */
function follower(fd: number, onChunk: (b: Uint8Array) => void) {
  let offset = 0;
  const buf = Buffer.allocUnsafe(1 << 20);
  return () => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) return;
      offset += n;
      onChunk(new Uint8Array(buf.subarray(0, n)));
    }
  };
}

/** The last `keep` characters written to the file behind fd. */
function readTail(fd: number, keep: number): string {
  const size = Number(fstatSync(fd).size);
  const from = Math.max(0, size - keep * 4);
  const buf = Buffer.allocUnsafe(size - from);
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, from + off);
    if (n === 0) break;
    off += n;
  }
  return buf.toString("utf8", 0, off).slice(-keep);
}

const POLL_MS = 50;
const STDERR_KEEP = 500_000;

/**
 * Under Bun: both output streams go to private unlinked files, followed while the child runs and
 * read to the end once it has exited. Bun's pipes (node:child_process and Bun.spawn alike) now and
 * then never report the end of a stream when many children run at once: the child has exited and
 * the run waits forever. A file has no end to miss; the exit itself is reported reliably.
 */
async function spawnBun(bun: any, cmd: string, args: string[], o: SpawnOptions): Promise<SpawnResult> {
  const outFd = anonymousFile();
  let errFd: number;
  try {
    errFd = anonymousFile();
  } catch (e) {
    closeSync(outFd);
    throw e;
  }
  let child: any;
  try {
    child = bun.spawn({
      cmd: [cmd, ...args],
      cwd: o.cwd,
      env: childEnv(o),
      stdin: o.stdin !== undefined ? new TextEncoder().encode(o.stdin) : "ignore",
      stdout: outFd,
      stderr: errFd,
      detached: true,
    });
  } catch (e) {
    closeSync(outFd);
    closeSync(errFd);
    throw e;
  }
  live.add(child);
  const kill = () => killGroup(child);
  if (o.signal) {
    if (o.signal.aborted) kill();
    else o.signal.addEventListener("abort", kill, { once: true });
  }
  const outLines = lineSplitter(o.onStdoutLine);
  const errLines = lineSplitter(o.onStderrLine);
  const outText = new TextDecoder();
  const errText = new TextDecoder();
  // stdout is followed only when someone listens as it arrives; otherwise it is read once at the end
  const followOut = o.onStdoutData
    ? follower(outFd, o.onStdoutData)
    : o.onStdoutLine && !o.stdoutToFile
      ? follower(outFd, (b) => outLines.push(outText.decode(b, { stream: true })))
      : undefined;
  const followErr = o.onStderrLine ? follower(errFd, (b) => errLines.push(errText.decode(b, { stream: true }))) : undefined;
  const poll = () => {
    followOut?.();
    followErr?.();
  };
  const timer = followOut || followErr ? setInterval(poll, POLL_MS) : undefined;
  try {
    await child.exited;
  } finally {
    if (timer) clearInterval(timer);
    live.delete(child);
    o.signal?.removeEventListener("abort", kill);
  }
  try {
    poll();
    let stdout = "";
    if (o.onStdoutData) stdout = "";
    else {
      stdout = readAll(outFd, o.maxStdout);
      if (followOut) outLines.push(outText.decode());
      else outLines.push(stdout);
    }
    if (followErr) errLines.push(errText.decode());
    outLines.end();
    errLines.end();
    const stderr = readTail(errFd, STDERR_KEEP);
    const signal: string | null = child.signalCode ?? null;
    return { code: signal ? null : child.exitCode, signal, stdout, stderr };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
}

function spawnNode(cmd: string, args: string[], o: SpawnOptions): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const env = childEnv(o);
    const outFd = o.stdoutToFile ? anonymousFile() : undefined;
    let child: ReturnType<typeof nodeSpawn>;
    try {
      child = nodeSpawn(cmd, args, { cwd: o.cwd, env, stdio: ["pipe", outFd ?? "pipe", "pipe"], detached: true });
    } catch (e) {
      if (outFd !== undefined) closeSync(outFd);
      throw e;
    }
    let stdout = "";
    let outOpen = outFd !== undefined;
    // closed exactly once (both "error" and "close" may fire): a second close could hit a reused fd
    const closeOut = (read: boolean) => {
      if (!outOpen) return;
      outOpen = false;
      try {
        if (read) stdout = readAll(outFd!, o.maxStdout);
      } finally {
        closeSync(outFd!);
      }
    };
    let stderr = "";
    const outLines = lineSplitter(o.onStdoutLine);
    const errLines = lineSplitter(o.onStderrLine);
    child.stderr!.setEncoding("utf8");
    if (child.stdout && o.onStdoutData) {
      const cb = o.onStdoutData;
      child.stdout.on("data", (b: Buffer) => cb(b));
    } else if (child.stdout) {
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (s: string) => {
        if (o.maxStdout === undefined || stdout.length < o.maxStdout) stdout += s;
        outLines.push(s);
      });
    }
    child.stderr!.on("data", (s: string) => {
      stderr += s;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      errLines.push(s);
    });
    live.add(child);
    const kill = () => killGroup(child);
    if (o.signal) {
      if (o.signal.aborted) kill();
      else o.signal.addEventListener("abort", kill, { once: true });
    }
    child.on("error", (e) => {
      live.delete(child);
      o.signal?.removeEventListener("abort", kill);
      closeOut(false);
      reject(e);
    });
    child.on("close", (code, signal) => {
      live.delete(child);
      o.signal?.removeEventListener("abort", kill);
      try {
        closeOut(true);
      } catch (e) {
        reject(e);
        return;
      }
      if (outFd !== undefined) outLines.push(stdout);
      outLines.end();
      errLines.end();
      resolve({ code, signal, stdout, stderr });
    });
    // a child that exits without reading its stdin (EPIPE) is judged by its exit code, not a crash
    child.stdin!.on("error", () => {});
    if (o.stdin !== undefined) child.stdin!.end(o.stdin);
    else child.stdin!.end();
  });
}

/** The process groups (or single processes) of hoard's children: those it tracks, and on Linux every direct child /proc shows. */
function childTargets(): number[] {
  const out = new Set<number>();
  for (const c of live) if (c.pid) out.add(-c.pid); // spawned detached: each leads its own group
  let names: string[] = [];
  try {
    names = readdirSync("/proc");
  } catch {
    /* no /proc: the tracked children only */
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state, ppid, pgrp, …
      if (Number(f[1]) !== process.pid || f[0] === "Z" || f[0] === "X") continue;
      const pid = Number(name);
      const pgrp = Number(f[2]);
      // a child leading its own group (hooks, tools) is stopped with its whole group; one in hoard's group alone
      out.add(pgrp === pid ? -pid : pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return [...out];
}

const signalled = (target: number, sig: NodeJS.Signals): boolean => {
  try {
    process.kill(target, sig);
    return true;
  } catch {
    return false;
  }
};

/**
 * Is anything of this target (a process group when negative) still alive? Zombies (dead, not yet
 * reaped) do not count where /proc tells; without /proc any answer to kill(target, 0) does.
 */
export function processAlive(target: number): boolean {
  try {
    process.kill(target, 0);
  } catch (e: any) {
    if (e?.code !== "EPERM") return false;
  }
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state, ppid, pgrp, …
      const hit = target < 0 ? Number(f[2]) === -target : Number(name) === target;
      if (hit && f[0] !== "Z" && f[0] !== "X") return true;
    } catch {
      /* exited meanwhile */
    }
  }
  return false;
}

/** Block this thread for `ms` (nothing else of hoard runs meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Stop every child process of hoard (rclone, kopia, restic, hooks) with its process group: SIGTERM,
 * up to `graceMs` for them to go (a tool may clean up its partial files), then SIGKILL. Synchronous:
 * for an interruption, so no promise of hoard's resumes while its children die. Returns how many
 * processes or groups were signalled.
 */
export function stopChildren(graceMs = 2000): number {
  const targets = childTargets().filter((t) => signalled(t, "SIGTERM"));
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && targets.some(processAlive)) sleepSync(25);
  for (const t of targets) if (processAlive(t)) signalled(t, "SIGKILL");
  for (const c of live) killGroup(c);
  live.clear();
  return targets.length;
}
