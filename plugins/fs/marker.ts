// The fs destination's identity: the marker file `.hoard-destination` at its root, written once (never
// replacing one, fsynced with its directory) by `dest init`, and read back through the root's handle.

import type { PluginApi } from "hoard/plugin";
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, readSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { AnchorError, type Dir } from "../../src/kernel/anchored.ts";
import { DEST_MARKER, errText, NO_HARD_LINKS, RD, TEMP_PREFIX } from "./common.ts";

/** Where the destination is (its configured path and name), how its root is opened, and how a failure is made. */
export interface MarkerPlace {
  root: string;
  name: string;
  openDest(): Dir;
  failure: PluginApi["util"]["errors"]["failure"];
}

/** Write a new marker with a fresh id; refuses when one exists (or appears meanwhile). */
export function initMarker({ root, name, openDest, failure }: MarkerPlace): { id: string } {
  mkdirSync(root, { recursive: true });
  const top = openDest();
  try {
    if (top.stat(DEST_MARKER)) throw failure("dest_marker_exists", `${root}/${DEST_MARKER} already exists: this directory is already a hoard destination`, `if it is yours and you want a new identity, run \`hoard dest reset ${name} --yes\``);
    const id = randomUUID();
    const tmp = `${TEMP_PREFIX}${randomUUID()}`;
    const fd = top.openFile(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      writeSync(fd, JSON.stringify({ id, type: "fs", created_at: new Date().toISOString() }) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      top.link(tmp, top, DEST_MARKER); // never replaces a marker that appeared meanwhile
      top.unlink(tmp);
    } catch (e: any) {
      if (e?.code === "EEXIST") {
        top.unlink(tmp);
        throw failure("dest_marker_exists", `${root}/${DEST_MARKER} already exists: this directory is already a hoard destination`);
      }
      if (!NO_HARD_LINKS.has(e?.code)) throw e;
      top.rename(tmp, top, DEST_MARKER);
    }
    top.sync();
    return { id };
  } finally {
    top.close();
  }
}

/** The id the marker holds, or "uninitialised" when there is none. */
export function readMarker({ root, name, openDest, failure }: MarkerPlace): { id: string } | "uninitialised" {
  let st;
  try {
    st = lstatSync(root);
  } catch (e: any) {
    throw failure("dest_missing", `destination directory ${root} does not exist (${e.code}); is it mounted?`, `mount it, or fix destinations.${name}.path`);
  }
  if (!st.isDirectory()) throw failure("dest_not_dir", `destination path ${root} is not a directory`);
  const top = openDest();
  try {
    let fd: number;
    try {
      fd = top.openFile(DEST_MARKER, RD);
    } catch (e) {
      if (e instanceof AnchorError && e.kind === "missing") return "uninitialised";
      throw failure("dest_marker_unreadable", `cannot read ${root}/${DEST_MARKER}: ${errText(e)}`, `it must be a regular file; move it away and run \`hoard dest reset ${name} --yes\``);
    }
    try {
      if (!fstatSync(fd).isFile() || fstatSync(fd).size > 1 << 16) throw new Error("not a small regular file");
      const buf = Buffer.alloc(1 << 16);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const m = JSON.parse(buf.subarray(0, n).toString("utf8"));
      if (typeof m?.id !== "string") throw new Error("no id");
      return { id: m.id };
    } catch (e: any) {
      throw failure("dest_marker_unreadable", `cannot read ${root}/${DEST_MARKER}: ${e.message}`);
    } finally {
      closeSync(fd);
    }
  } finally {
    top.close();
  }
}
