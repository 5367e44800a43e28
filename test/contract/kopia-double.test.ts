// The destination contract suite against the built-in `kopia` destination driven through the kopia
// test double (test/fixtures/kopia-double), whose log records every argv and whether the password came by env.

import { afterAll } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/kopia/index.ts";
import { ROOT } from "../helpers.ts";
import { DOUBLE_DIR } from "../kopia/harness.ts";
import { runDestinationContract } from "./contract.ts";
import { cleanup, filesUnder, openType, tmp, typeOf } from "./harness.ts";

afterAll(cleanup);
const type = typeOf(plugin, "kopia");

runDestinationContract("kopia (double)", () => {
  const dir = tmp("hoard-contract-kopia-");
  const repo = join(dir, "repo");
  mkdirSync(repo);
  writeFileSync(join(dir, "file"), "");
  const log = join(dir, "kopia-log.jsonl");
  const secret = `kopia-pw-${Math.random().toString(36).slice(2)}-Zk4`;
  const env = { PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, KOPIA_DOUBLE_LOG: log };
  const open = (r: string) => openType(type, { repository: r, password: secret, verify_files_percent: 100 }, join(dir, "state"), env, (o) => ({ ...o, password: { value: secret, literal: false } }));
  return {
    handler: () => open(repo),
    unreachable: () => open(join(dir, "file", "repo")),
    wipe() {
      rmSync(repo, { recursive: true, force: true });
      mkdirSync(repo);
    },
    // the double's data blobs live under p*/ at the repository root
    dataFiles: () => filesUnder(repo, (n, rel) => !rel.includes("/") && !(n.startsWith("p") && statSync(join(repo, n)).isDirectory())),
    secret,
    argv: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).argv as string[]) : []),
  };
});
