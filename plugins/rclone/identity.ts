// Destination identity: the `.hoard-destination` marker at the remote root, written by init()
// via `rclone rcat` (stdin) and read by identify(); only "not found" means uninitialised.

import type { Identity, PluginApi } from "../../src/kernel/plugin.ts";
import { joinRemote } from "./options.ts";
import { lastErrorLine, type Rclone } from "./run.ts";

export const DEST_MARKER = ".hoard-destination";

interface Marker {
  id: string;
  created_at: string;
  type: string;
}

/** Whether a failed `rclone cat` proves the marker absent (as opposed to any other failure). */
export function provesAbsent(code: number | null, stderr: string): boolean {
  if (code === 3 || code === 4) return true;
  if (code !== 1) return false;
  // only the final verdict counts, not any line that happens to mention "not found"
  const last = lastErrorLine(stderr);
  return /^Failed to cat[^:]*: (last error was: )?(error in [A-Za-z]+: )?(object not found|directory not found)\s*$/.test(last);
}

export async function identify(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<Identity | "uninitialised"> {
  const { failure } = api.util.errors;
  const path = joinRemote(remote, DEST_MARKER);
  const r = await rc.run(["cat", "--count", "65536", path]);
  if (r.code !== 0) {
    if (provesAbsent(r.code, r.stderr)) return "uninitialised";
    throw failure(
      "dest_unreachable",
      `${dest}: cannot read ${DEST_MARKER}: ${rc.describeFailure("cat", r)}`,
      "check that the remote is reachable and its credentials (rclone.conf or RCLONE_CONFIG_* variables) are right; an unreadable destination is never treated as uninitialised",
    );
  }
  let m: Partial<Marker>;
  try {
    m = JSON.parse(r.stdout);
  } catch {
    throw failure("dest_marker_invalid", `${dest}: ${path} exists but is not a hoard destination marker (not JSON)`, "this remote path is used by something else: choose another path");
  }
  if (!m || typeof m.id !== "string" || m.id === "")
    throw failure("dest_marker_invalid", `${dest}: ${path} exists but has no destination id`, "this remote path is used by something else: choose another path");
  if (m.type !== undefined && m.type !== "rclone")
    throw failure("dest_marker_type", `${dest}: ${path} was created by destination type "${m.type}", not rclone`, "use a destination of that type for this path, or choose another path");
  return { id: m.id, detail: `created ${m.created_at ?? "(unknown time)"} at ${remote}` };
}

export async function init(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<Identity> {
  const { failure, refused } = api.util.errors;
  const existing = await identify(api, rc, remote, dest);
  if (existing !== "uninitialised")
    throw refused("dest_marker_exists", `${dest}: ${joinRemote(remote, DEST_MARKER)} already exists (destination id ${existing.id}): this remote path is already a hoard destination`, `if it is yours and you want a new identity, run \`hoard dest reset ${dest} --yes\``);
  const marker: Marker = { id: crypto.randomUUID(), created_at: new Date().toISOString(), type: "rclone" };
  const path = joinRemote(remote, DEST_MARKER);
  const w = await rc.run(["rcat", path], { stdin: JSON.stringify(marker) + "\n" });
  if (w.code !== 0) throw failure("dest_init_failed", `${dest}: cannot write ${DEST_MARKER}: ${rc.describeFailure("rcat", w)}`, "check that the remote is writable");
  // read it back: a write that did not land must not pin an identity
  const back = await identify(api, rc, remote, dest);
  if (back === "uninitialised" || back.id !== marker.id)
    throw failure("dest_init_failed", `${dest}: wrote ${DEST_MARKER} but reading it back gave ${back === "uninitialised" ? "nothing" : `id ${back.id}`}`, "check the remote (and that `rclone` is the real rclone)");
  return back;
}
