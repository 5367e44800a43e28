// The destination contract suite against the built-in `rclone` destination over `rclone serve sftp`
// (password from env only), verify = "hash": the sha1/md5 the server computes. (verify = "download" is the
// same here: a remote that stores a hash is verified by it, download is only for remotes without one.)

import { afterAll } from "bun:test";
import { runDestinationContract } from "./contract.ts";
import { servedTarget, stopServed } from "./served.ts";

afterAll(stopServed);
runDestinationContract(`rclone (rclone serve sftp, verify = "hash")`, () => servedTarget("sftp", "hash"));
