// The destination contract suite against the built-in `rclone` destination over `rclone serve webdav`
// (basic auth, env only) with verify = "download": WebDAV lists no hashes, so content is BLAKE3 of bytes read back.

import { afterAll } from "bun:test";
import { runDestinationContract } from "./contract.ts";
import { servedTarget, stopServed } from "./served.ts";

afterAll(stopServed);
runDestinationContract(`rclone (rclone serve webdav, verify = "download")`, () => servedTarget("webdav", "download"));
