// The destination contract suite against the example third-party plugin examples/dir-destination,
// loaded the way hoard loads a `plugins = [...]` file (dynamic import, the real registry and api.util).

import { afterAll } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadRegistry } from "../../src/cli/app.ts";
import { ROOT } from "../helpers.ts";
import { runDestinationContract } from "./contract.ts";
import { cleanup, filesUnder, openType, tmp } from "./harness.ts";

afterAll(cleanup);
const confDir = tmp("hoard-contract-example-conf-");
const registry = await loadRegistry(join(confDir, "config.toml"), `plugins = [${JSON.stringify(join(ROOT, "examples/dir-destination/index.ts"))}]\n`);
const type = registry.destinationType("dir");

runDestinationContract("example dir-destination (third-party plugin)", () => {
  const dir = tmp("hoard-contract-example-");
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
    // the stored contents; not the marker, the sidecar index or catalogs
    dataFiles: () => filesUnder(join(root, "blobs")),
  };
});
