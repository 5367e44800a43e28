// The destination contract suite against the built-in `rclone` destination on a crypt remote over a
// local directory (env only) with verify = "download": crypt lists no hashes, so bytes are read back decrypted.

import { afterAll } from "bun:test";
import { runDestinationContract } from "./contract.ts";
import { cryptTarget, stopServed } from "./served.ts";

afterAll(stopServed);
runDestinationContract(`rclone (crypt over a local directory, verify = "download")`, () => cryptTarget("download"), {
  longNameUnstorable:
    "crypt's standard name encryption makes a 255-byte name about 400 bytes long, past the local filesystem's 255-byte limit (rclone: file name too long); such a file is reported as not copied",
});
