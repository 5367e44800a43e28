// Upkeep and diagnosis: `db backup|check`, `plugins` (what each registered) and `doctor` (every
// destination's tool, capabilities and identity, with the next step for each).

import { appCommand, command, readCommand } from "./define.ts";
import { withApp } from "./app.ts";
import { HoardError } from "../kernel/errors.ts";
import { bytes, table } from "./output.ts";
import { checkDb, SCHEMA_VERSION } from "../kernel/db.ts";
import { backupDb } from "../ops/backup.ts";
import { doctor, type DoctorState } from "../ops/doctor.ts";

const dbCmd = command({
  name: "db",
  description: "database maintenance",
  subCommands: {
    backup: appCommand({
      name: "backup",
      description: "write a consistent copy of the database while it is in use (private, fsynced; never overwrites a file)",
      args: { file: { type: "positional", required: false, description: "where (default: beside the database, DB.backup-<UTC time>)" } },
      run(app, args) {
        const r = backupDb(app.ctx.db, args.file);
        return { data: { file: r.file, bytes: r.bytes }, human: `wrote ${r.file} (${bytes(r.bytes)}); keep it on another disk`, status: "success" };
      },
    }),
    check: command({
      name: "check",
      description: "run SQLite integrity_check and foreign_key_check",
      async run(args) {
        try {
          return await withApp(args, async (app) => {
            const problems = checkDb(app.ctx.db);
            return { data: { db: app.dbPath, ok: problems.length === 0, problems, schema_version: SCHEMA_VERSION }, human: problems.length ? problems.join("\n") : `${app.dbPath}: ok (schema ${SCHEMA_VERSION})`, status: problems.length ? "failed" : "success" };
          });
        } catch (e) {
          // too damaged to open (e.g. a page of its schema overwritten): that is the finding, not an internal error
          const msg = String((e as Error)?.message ?? e);
          if (e instanceof HoardError || !/malformed|corrupt|not a database/i.test(msg)) throw e;
          return { data: { ok: false, problems: [`cannot open the database: ${msg}`], schema_version: SCHEMA_VERSION }, human: `cannot open the database: ${msg}`, status: "failed" };
        }
      },
    }),
  },
});

const pluginsCmd = readCommand({
  name: "plugins",
  description: "list loaded plugins and what each registered",
  run(app) {
    const data = app.ctx.registry.plugins.map((p) => ({ name: p.name, source: p.source, destination_types: p.destinations, policies: p.policies.map((x) => x.name), hooks: p.hooks, config_keys: p.configKeys }));
    return { data: { plugins: data }, human: table(["plugin", "source", "destinations", "policies", "hooks", "config keys"], data.map((p) => [p.name, p.source, p.destination_types.join(","), p.policies.join(","), p.hooks.join(","), p.config_keys.join(",")])) };
  },
});

/** Facts as short `key value` text (lists joined with commas). */
function factsText(facts: Record<string, unknown>): string {
  return Object.entries(facts)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(",") || "none" : typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join("; ");
}

const DOCTOR_LABEL: Record<DoctorState, string> = { ok: "ok", not_initialised: "not initialised", adoptable: "initialised elsewhere, not pinned here", identity_changed: "IDENTITY CHANGED", wiped: "IDENTITY GONE", unreachable: "UNREACHABLE", error: "ERROR" };
const doctorCmd = appCommand({
  name: "doctor",
  description: "check every destination: tool, capabilities, verification method, identity; says what to do next",
  async run(app, args) {
    const r = await doctor(app.ctx);
    const lines: string[] = [];
    for (const d of r.destinations) {
      lines.push(`${d.name} (${d.type}): ${DOCTOR_LABEL[d.state]}${d.methods ? `; methods ${d.methods.join(",") || "none"}` : ""}${d.identity ? `; identity ${d.identity}` : ""}${d.used_by.length ? `; used by ${d.used_by.join(", ")}` : ""}`);
      if (d.error) lines.push(`  error: ${d.error}`);
      if (d.identity_error) lines.push(`  error: ${d.identity_error}`);
      for (const w of d.warnings ?? []) lines.push(`  warning: ${w}`);
      if (d.facts && factsText(d.facts)) lines.push(`  ${factsText(d.facts)}`);
      if (d.next) lines.push(`  next: ${d.next}`);
    }
    if (args.json) for (const w of r.warnings) app.ctx.log.warn(w);
    else for (const w of r.warnings) lines.push(`warning: ${w}\n  next: chmod 600 the file, or use { env = "VAR" } for the secret`);
    lines.push(r.destinations.length ? (r.problems ? `doctor: ${r.problems} of ${r.destinations.length} destinations need attention` : `doctor: ${r.destinations.length} destinations checked, no problem found`) : "no destinations (hoard dest add NAME --type fs path=DIR)");
    return { data: r, human: lines.join("\n"), status: r.problems ? "failed" : "success" };
  },
});

/** db, plugins and doctor, for the command tree. */
export const maintCommands = { db: dbCmd, plugins: pluginsCmd, doctor: doctorCmd };
