// The destination contract suite against a real restic (Debian's package) on a local repository,
// the password only in the environment (a wrapper logs every argv restic is started with).

import { afterAll } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/restic/index.ts";
import { runDestinationContract } from "./contract.ts";
import { argvWrapper, cleanup, filesUnder, openType, tmp, typeOf, which } from "./harness.ts";
import { rmSync } from "node:fs";

afterAll(cleanup);
const type = typeOf(plugin, "restic");
const REAL = which("restic");

runDestinationContract("restic", () => {
  const dir = tmp("hoard-contract-restic-");
  const repo = join(dir, "repo");
  mkdirSync(repo);
  const secret = `restic-pw-${Math.random().toString(36).slice(2)}-Qx7`;
  const w = argvWrapper(dir, REAL);
  const env = { HOARD_CONTRACT_PW: secret };
  const open = (r: string) => openType(type, { repository: r, password: secret, binary: w.bin }, join(dir, "state"), env);
  writeFileSync(join(dir, "file"), "");
  return {
    handler: () => open(repo),
    unreachable: () => open(join(dir, "file", "repo")),
    wipe() {
      rmSync(repo, { recursive: true, force: true });
      mkdirSync(repo);
    },
    dataFiles: () => filesUnder(join(repo, "data")),
    secret,
    argv: w.argv,
  };
});
