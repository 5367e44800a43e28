// What a config names as secret: `{ env = "VAR" }` variables (hooks never see them) and literal values at
// secret-looking destination keys (stored text never holds them), and the warning about a readable file.

import { statSync } from "node:fs";
import { isTable } from "./issues.ts";
import type { HoardConfig } from "./schema.ts";

/** What the config names as secret: hooks never see these variables, stored text never these values. */
export interface ConfigSecrets {
  /** Environment variables named by `{ env = "VAR" }` anywhere in the config. */
  envVars: string[];
  /** Resolved values: of those variables, and literal strings at secret-looking keys of destination tables. */
  values: string[];
  /** Key paths of destination tables holding a literal (not `{ env }`) secret, e.g. `destinations.vault.password`. */
  literals: string[];
}

declare module "./schema.ts" {
  interface HoardConfig {
    /** Set by loadConfig/parseConfig. */
    secrets?: ConfigSecrets;
  }
}

/** Keys of destination tables whose literal string values are secrets. */
const SECRET_KEY = /(^|_)(pass|passwd|password|passphrase|secret|token|key|credentials?)($|_)/i;

/** Collect `{ env = "VAR" }` tables anywhere, and literal strings at secret-looking destination keys. */
export function collectSecrets(raw: Record<string, unknown>, env: Record<string, string | undefined> = process.env): ConfigSecrets {
  const envVars = new Set<string>();
  const values = new Set<string>();
  const literals: string[] = [];
  const walk = (x: unknown, path: string[], inDest: boolean) => {
    if (Array.isArray(x)) {
      x.forEach((y, i) => walk(y, [...path, `[${i}]`], inDest));
      return;
    }
    if (!isTable(x)) return;
    const keys = Object.keys(x);
    if (keys.length === 1 && keys[0] === "env" && typeof x.env === "string") {
      envVars.add(x.env);
      const val = env[x.env];
      if (val) values.add(val);
      return;
    }
    for (const k of keys) {
      const val = x[k];
      if (inDest && path.length >= 2 && typeof val === "string" && val !== "" && SECRET_KEY.test(k)) {
        values.add(val);
        literals.push([...path, k].join("."));
      } else walk(val, [...path, k], inDest || (path.length === 0 && k === "destinations"));
    }
  };
  walk(raw, [], false);
  return { envVars: [...envVars].sort(), values: [...values].sort((a, b) => b.length - a.length), literals };
}

/** Warnings about the config file itself: group/world-readable while it holds a literal secret. */
export function configFileWarnings(config: HoardConfig): string[] {
  if (config.file === "" || !config.secrets?.literals.length) return [];
  let mode: number;
  try {
    mode = statSync(config.file).mode & 0o777;
  } catch {
    return [];
  }
  if ((mode & 0o077) === 0) return [];
  return [
    `config file ${config.file} holds a literal secret (${config.secrets.literals.join(", ")}) and is readable by ${mode & 0o007 ? "everyone" : "its group"} (mode ${mode.toString(8).padStart(4, "0")}): chmod 600 it, or use { env = "VAR" }`,
  ];
}
