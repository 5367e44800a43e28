// A list too long to hold (a dry run's files over a big volume): its items are written as JSON lines
// to an unlinked temp file as they come, and read back once, in order, when the output is printed.

import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonSafe } from "./output.ts";

export class Spool {
  private fd: number;
  private buf: string[] = [];
  private size = 0;
  count = 0;

  constructor() {
    const dir = mkdtempSync(join(tmpdir(), "hoard-spool-"));
    const path = join(dir, "items");
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    rmSync(dir, { recursive: true, force: true });
  }

  add(item: unknown): void {
    const line = JSON.stringify(jsonSafe(item));
    this.buf.push(line);
    this.size += line.length;
    this.count++;
    if (this.size > 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.buf.length) writeSync(this.fd, this.buf.join("\n") + "\n");
    this.buf = [];
    this.size = 0;
  }

  /** The items as their JSON texts, in order (once: the file is closed at the end). */
  *items(): Generator<string> {
    this.flush();
    const chunk = Buffer.allocUnsafe(1 << 16);
    let rest = "";
    try {
      for (let pos = 0, n; (n = readSync(this.fd, chunk, 0, chunk.length, pos)) > 0; pos += n) {
        const lines = (rest + chunk.toString("utf8", 0, n)).split("\n");
        rest = lines.pop()!;
        yield* lines;
      }
      if (rest) yield rest;
    } finally {
      closeSync(this.fd);
    }
  }
}

/**
 * Print `data` as toJson does, with the list `spool` holds as the value of `key` (streamed, in chunks):
 * the same text as if the list had been in `data` all along.
 */
export function writeJsonWith(data: Record<string, unknown>, key: string, spool: Spool, write: (s: string) => void): void {
  const marker = `\u0000spool-${Math.random()}`;
  const text = JSON.stringify(jsonSafe({ ...data, [key]: marker }), null, 2);
  const at = text.indexOf(JSON.stringify(marker));
  const indent = text.slice(text.lastIndexOf("\n", at) + 1).match(/^ */)![0]; // the key's own indentation
  write(text.slice(0, at));
  if (spool.count === 0) write("[]");
  else {
    let out = "[";
    let first = true;
    for (const line of spool.items()) {
      out += `${first ? "" : ","}\n${indent}  ${JSON.stringify(JSON.parse(line), null, 2).replaceAll("\n", `\n${indent}  `)}`;
      first = false;
      if (out.length > 1 << 16) (write(out), (out = ""));
    }
    write(`${out}\n${indent}]`);
  }
  write(text.slice(at + JSON.stringify(marker).length) + "\n");
}
