// The destination contract suite against the built-in `rclone` destination: a local-path remote (hash
// verification), and the same with verify = "download" (every object read back into BLAKE3).

import { afterAll } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/rclone/index.ts";
import { runDestinationContract } from "./contract.ts";
import { argvWrapper, cleanup, filesUnder, openType, tmp, typeOf, which } from "./harness.ts";

afterAll(cleanup);
const type = typeOf(plugin, "rclone");
const REAL = which("rclone");

for (const verify of ["hash", "download"] as const)
  runDestinationContract(`rclone (local path, verify = "${verify}")`, () => {
    const dir = tmp("hoard-contract-rclone-");
    const root = join(dir, "dest");
    mkdirSync(root);
    writeFileSync(join(dir, "file"), "");
    const w = argvWrapper(dir, REAL);
    const env = { RCLONE_CONFIG: join(dir, "rclone.conf") };
    const open = (remote: string) => openType(type, { remote, verify, binary: w.bin }, join(dir, "state"), env);
    return {
      handler: () => open(root),
      unreachable: () => open(join(dir, "file", "dest")),
      wipe() {
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root);
      },
      dataFiles: () => filesUnder(root, (n, rel) => rel === ".hoard-destination" || n === ".hoard"),
      argv: w.argv,
    };
  });
