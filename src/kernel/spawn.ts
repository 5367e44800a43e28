// Spawning child processes (the one implementation: tools, hooks): argv without a shell, each in its
// own process group, output captured (line callbacks as it arrives), abort or timeout stops the group.

import { spawn as nodeSpawn } from "node:child_process";
import { closeSync } from "node:fs";
import type { SpawnOptions, SpawnResult } from "./plugin.ts";
import { deadlineFor, killGroup, live } from "./children.ts";
import { anonymousFile, follower, lineSplitter, readAll, readTail } from "./outfiles.ts";

export type { SpawnOptions } from "./plugin.ts";
// the CLI stops children through these (see children.ts)
export { killStrays, processAlive, stopChildren } from "./children.ts";

const POLL_MS = 50;
const STDERR_KEEP = 500_000;
const KILL_GRACE_MS = 2000;

/** The child's environment: hoard's own (unless inheritEnv is false), overlaid with the call's (undefined removes a variable). */
function childEnv(o: SpawnOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries({ ...(o.inheritEnv === false ? {} : process.env), ...(o.env ?? {}) })) if (val !== undefined) env[k] = val;
  return env;
}

/** Run a command to completion. Rejects only when the command cannot be started. */
export function spawnTool(cmd: string, args: string[], o: SpawnOptions = {}): Promise<SpawnResult> {
  const bun = (globalThis as any).Bun;
  return bun?.spawn ? spawnBun(bun, cmd, args, o) : spawnNode(cmd, args, o);
}

/** Abort kills the child's process group; a deadline stops it; returns the clean-up. */
function watch(child: { pid?: number; kill(sig?: any): unknown }, o: SpawnOptions) {
  live.add(child);
  const kill = () => killGroup(child);
  if (o.signal) {
    if (o.signal.aborted) kill();
    else o.signal.addEventListener("abort", kill, { once: true });
  }
  if (child.pid !== undefined) o.onStart?.(child.pid);
  const deadline = deadlineFor(child.pid!, child.pid === undefined ? undefined : o.timeoutMs, o.killGraceMs ?? KILL_GRACE_MS);
  return {
    /** The child has exited: stop watching; whether its deadline had passed (the group is then gone). */
    done(): Promise<boolean> {
      live.delete(child);
      o.signal?.removeEventListener("abort", kill);
      return deadline.settle();
    },
  };
}

/**
 * Under Bun: both output streams go to private unlinked files, followed while the child runs and
 * read to the end once it has exited. Bun's pipes (node:child_process and Bun.spawn alike) now and
 * then never report the end of a stream when many children run at once: the child has exited and
 * the run waits forever. A file has no end to miss; the exit itself is reported reliably.
 */
async function spawnBun(bun: any, cmd: string, args: string[], o: SpawnOptions): Promise<SpawnResult> {
  const outFd = o.discardStdout ? undefined : anonymousFile();
  const close = (fds: (number | undefined)[]) => {
    for (const fd of fds) if (fd !== undefined) closeSync(fd);
  };
  let errFd: number;
  try {
    errFd = anonymousFile();
  } catch (e) {
    close([outFd]);
    throw e;
  }
  let child: any;
  try {
    child = bun.spawn({
      cmd: [cmd, ...args],
      cwd: o.cwd,
      env: childEnv(o),
      stdin: o.stdin !== undefined ? new TextEncoder().encode(o.stdin) : "ignore",
      stdout: outFd ?? "ignore",
      stderr: errFd,
      detached: true,
    });
  } catch (e) {
    close([outFd, errFd]);
    throw e;
  }
  const watching = watch(child, o);
  const outLines = lineSplitter(o.onStdoutLine);
  const errLines = lineSplitter(o.onStderrLine);
  const outText = new TextDecoder();
  const errText = new TextDecoder();
  // stdout is followed only when someone listens as it arrives; otherwise it is read once at the end
  const followOut =
    outFd === undefined
      ? undefined
      : o.onStdoutData
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
  let timedOut = false;
  try {
    await child.exited;
  } finally {
    if (timer) clearInterval(timer);
    timedOut = await watching.done();
  }
  try {
    poll();
    let stdout = "";
    if (outFd !== undefined && !o.onStdoutData) {
      stdout = readAll(outFd, o.maxStdout);
      if (followOut) outLines.push(outText.decode());
      else outLines.push(stdout);
    }
    if (followErr) errLines.push(errText.decode());
    outLines.end();
    errLines.end();
    const stderr = readTail(errFd, STDERR_KEEP);
    const signal: string | null = child.signalCode ?? null;
    return { code: signal ? null : child.exitCode, signal, stdout, stderr, ...(timedOut ? { timedOut } : {}) };
  } finally {
    close([outFd, errFd]);
  }
}

function spawnNode(cmd: string, args: string[], o: SpawnOptions): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const env = childEnv(o);
    const outFd = o.stdoutToFile && !o.discardStdout ? anonymousFile() : undefined;
    let child: ReturnType<typeof nodeSpawn>;
    try {
      child = nodeSpawn(cmd, args, { cwd: o.cwd, env, stdio: ["pipe", o.discardStdout ? "ignore" : (outFd ?? "pipe"), "pipe"], detached: true });
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
    const watching = watch(child, o);
    // a background grandchild may hold the streams open after the child exited: let go after settleMs
    let settle: ReturnType<typeof setTimeout> | undefined;
    if (o.settleMs !== undefined) {
      const ms = o.settleMs;
      child.once("exit", () => {
        settle = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, ms);
      });
    }
    child.on("error", (e) => {
      clearTimeout(settle);
      void watching.done();
      closeOut(false);
      reject(e);
    });
    child.on("close", async (code, signal) => {
      clearTimeout(settle);
      const timedOut = await watching.done();
      try {
        closeOut(true);
      } catch (e) {
        reject(e);
        return;
      }
      if (outFd !== undefined) outLines.push(stdout);
      outLines.end();
      errLines.end();
      resolve({ code, signal, stdout, stderr, ...(timedOut ? { timedOut } : {}) });
    });
    // a child that exits without reading its stdin (EPIPE) is judged by its exit code, not a crash
    child.stdin!.on("error", () => {});
    if (o.stdin !== undefined) child.stdin!.end(o.stdin);
    else child.stdin!.end();
  });
}
