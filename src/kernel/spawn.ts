// Spawning child processes without a shell: argv arrays, environment-only secrets, both output
// streams drained concurrently (line callbacks as they stream), abort kills the process group.

import { spawn as nodeSpawn } from "node:child_process";
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

/** Run a command to completion. Rejects only when the command cannot be started. */
export function spawnTool(cmd: string, args: string[], o: SpawnOptions = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, val] of Object.entries({ ...process.env, ...(o.env ?? {}) })) if (val !== undefined) env[k] = val;
    const child = nodeSpawn(cmd, args, { cwd: o.cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    const outLines = lineSplitter(o.onStdoutLine);
    const errLines = lineSplitter(o.onStderrLine);
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (s: string) => {
      if (o.maxStdout === undefined || stdout.length < o.maxStdout) stdout += s;
      outLines.push(s);
    });
    child.stderr!.on("data", (s: string) => {
      stderr += s;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      errLines.push(s);
    });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    if (o.signal) {
      if (o.signal.aborted) kill();
      else o.signal.addEventListener("abort", kill, { once: true });
    }
    child.on("error", (e) => {
      o.signal?.removeEventListener("abort", kill);
      reject(e);
    });
    child.on("close", (code, signal) => {
      o.signal?.removeEventListener("abort", kill);
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
