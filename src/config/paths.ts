// Where the config and the database are: --config/--db, then $HOARD_CONFIG/$HOARD_DB, then the XDG
// directories (always absolute); and reading the config file's text (UTF-8, or a config error).

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { configError } from "../kernel/errors.ts";
import type { HoardConfig } from "./schema.ts";

const env = (name: string): string | undefined => {
  const s = process.env[name];
  return s === undefined || s === "" ? undefined : s;
};
// XDG base directories must be absolute; a relative value is ignored (XDG spec).
const xdg = (name: string, fallback: string): string => {
  const s = env(name);
  return s !== undefined && isAbsolute(s) ? s : join(env("HOME") ?? homedir(), fallback);
};

/** --config, else $HOARD_CONFIG, else $XDG_CONFIG_HOME (default ~/.config)/hoard/config.toml; always absolute. */
export function resolveConfigPath(flag?: string): string {
  if (flag !== undefined && flag !== "") return resolve(flag);
  const e = env("HOARD_CONFIG");
  if (e !== undefined) return resolve(e);
  return join(xdg("XDG_CONFIG_HOME", ".config"), "hoard", "config.toml");
}

/** --db, else $HOARD_DB, else the config's db, else $XDG_DATA_HOME (default ~/.local/share)/hoard/hoard.db; always absolute. */
export function resolveDbPath(flag: string | undefined, cfg: HoardConfig | undefined): string {
  if (flag !== undefined && flag !== "") return resolve(flag);
  const e = env("HOARD_DB");
  if (e !== undefined) return resolve(e);
  if (cfg?.db) return cfg.db;
  return join(xdg("XDG_DATA_HOME", join(".local", "share")), "hoard", "hoard.db");
}

/** The config file's text, or undefined when it does not exist. Other read errors are config errors. */
export function readConfigText(path: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT") return undefined;
    throw configError(
      "config_unreadable",
      `config file ${path} cannot be read: ${code === "EISDIR" ? "it is a directory" : ((e as Error)?.message ?? String(e))}`,
      "check the path and its permissions, or pass --config",
      { file: path },
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw configError("config_encoding", `config file ${path} is not valid UTF-8`, "TOML files must be UTF-8; re-save it as UTF-8", { file: path });
  }
}

/** A config file's name in messages ("" is the empty config of a missing file). */
export const display = (file: string) => (file === "" ? "(no config file)" : file);
