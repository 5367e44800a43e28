// The destination contract suite against the built-in `fs` destination (a plain directory).

import { afterAll } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/fs/index.ts";
import { runDestinationContract } from "./contract.ts";
import { cleanup, filesUnder, openType, tmp, typeOf } from "./harness.ts";

afterAll(cleanup);
const type = typeOf(plugin, "fs");

runDestinationContract("fs", () => {
  const dir = tmp("hoard-contract-fs-");
  const root = join(dir, "dest");
  mkdirSync(root);
  writeFileSync(join(dir, "file"), "");
  return {
    handler: () => openType(type, { path: root }, join(dir, "state")),
    unreachable: () => openType(type, { path: join(dir, "file", "dest") }, join(dir, "state")),
    wipe() {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
    },
    // objects: everything but the identity marker and hoard's own bookkeeping
    dataFiles: () => filesUnder(root, (n, rel) => rel === ".hoard-destination" || n === ".hoard"),
  };
});
