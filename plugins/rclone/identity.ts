// Destination identity: the `.hoard-destination` marker at the remote root, written by init()
// via `rclone rcat` (stdin) and read by identify(). Uninitialised only when the root exists without
// the marker; a root that does not exist (an unmounted disk, a removed bucket) is unreachable.

import type { Identity, PluginApi } from "../../src/kernel/plugin.ts";
import { failureCause, listedButUnreadableHint, unreachableHint } from "./cause.ts";
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

/** What the remote root shows: an identity, no marker in an existing root, or no root at all. */
type Shown = Identity | "uninitialised" | { noRoot: string };

/**
 * Whether the remote root directory exists, once the marker is proven absent. `rclone cat` cannot
 * tell (a missing file and a missing directory both exit 3), a listing of the root can: rclone's
 * "directory not found" (exit 3) there means the root itself is missing. On a local path that is
 * any failure to stat the directory (rclone's local backend); on bucket-based remotes a prefix
 * always exists, a missing bucket does not.
 */
async function rootExists(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<true | { noRoot: string }> {
  const r = await rc.run(["lsf", "--max-depth", "1", "--files-only", "--include", `/${DEST_MARKER}`, remote]);
  if (r.code === 0) return true;
  if (r.code === 3) return { noRoot: rc.describeFailure("lsf", r) };
  throw api.util.errors.failure("dest_unreachable", `${dest}: ${DEST_MARKER} is absent and the root ${remote} cannot be listed: ${rc.describeFailure("lsf", r)}`, unreachableHint(failureCause(r.stderr)));
}

/** Whether a listing of the root names the marker (after reading it failed for no known cause). */
async function listsMarker(rc: Rclone, remote: string): Promise<boolean> {
  const r = await rc.run(["lsf", "--max-depth", "1", "--files-only", "--include", `/${DEST_MARKER}`, remote]);
  return r.code === 0 && r.stdout.split("\n").includes(DEST_MARKER);
}

async function shown(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<Shown> {
  const { failure } = api.util.errors;
  const path = joinRemote(remote, DEST_MARKER);
  const r = await rc.run(["cat", "--count", "65536", path]);
  if (r.code !== 0) {
    if (provesAbsent(r.code, r.stderr)) {
      const root = await rootExists(api, rc, remote, dest);
      return root === true ? "uninitialised" : root;
    }
    const cause = failureCause(r.stderr);
    if (cause === "other" && (await listsMarker(rc, remote)))
      throw failure("dest_marker_unreadable", `${dest}: ${DEST_MARKER} is listed at ${remote} but cannot be read: ${rc.describeFailure("cat", r)}`, listedButUnreadableHint(dest));
    throw failure("dest_unreachable", `${dest}: cannot read ${DEST_MARKER}: ${rc.describeFailure("cat", r)}`, unreachableHint(cause));
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

/** The identity the destination shows; a root that does not exist throws dest_missing (unreachable). */
export async function identify(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<Identity | "uninitialised"> {
  const s = await shown(api, rc, remote, dest);
  if (typeof s === "object" && "noRoot" in s)
    throw api.util.errors.failure(
      "dest_missing",
      `${dest}: the destination root ${remote} does not exist (${s.noRoot}); is it mounted?`,
      `mount it or make the remote reachable, or fix destinations.${dest}.remote; a missing root is never treated as wiped (if the destination really is gone, create its root directory, then \`hoard dest reset ${dest} --yes\`)`,
    );
  return s;
}

export async function init(api: PluginApi, rc: Rclone, remote: string, dest: string): Promise<Identity> {
  const { failure, refused } = api.util.errors;
  // a root that does not exist yet is created by the write (rclone makes parent directories)
  const existing = await shown(api, rc, remote, dest);
  if (existing !== "uninitialised" && !("noRoot" in existing))
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
