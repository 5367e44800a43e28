// The destination contract suite against this example third-party plugin, run from its own folder
// (`bun test examples/dir-destination`), loaded the way hoard loads a `plugins = [...]` file.

import { afterAll } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadRegistry } from "../../src/cli/app.ts";
import { ROOT } from "../../test/helpers.ts";
import { runDestinationContract } from "../../test/contract/contract.ts";
import { cleanup, filesUnder, openType, tmp } from "../../test/contract/harness.ts";

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
