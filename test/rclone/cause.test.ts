// The cause read from a failed rclone call's stderr (real messages of rclone's backends), and that each
// cause's next step is its own: connection and credentials steps never suggest a wiped destination.

import { expect, test } from "bun:test";
import { failureCause, listedButUnreadableHint, unreachableHint, type Cause } from "../../plugins/rclone/cause.ts";

const line = (msg: string) => `2026/12/02 12:58:19 NOTICE: Config file "/x/rc.conf" not found - using defaults\n2026/12/02 12:58:19 ${msg}\n`;

test("connection, credentials or other, from rclone's own messages", () => {
  const cases: [string, Cause][] = [
    ['Failed to create file system for "dav:sub/.hoard-destination": read metadata failed: Propfind "http://127.0.0.1:18766/sub/.hoard-destination": dial tcp 127.0.0.1:18766: connect: connection refused', "connection"],
    ['Failed to create file system for "sftpd:backup": NewFs: couldn\'t connect SSH: dial tcp: lookup nas.invalid on 127.0.0.53:53: no such host', "connection"],
    ['Failed to cat: Get "https://b2.example/file": net/http: TLS handshake timeout', "connection"],
    ['Failed to create file system for "dav:sub": read metadata failed: Unauthorized: 401 Unauthorized', "credentials"],
    ['Failed to create file system for "sftpd:backup": NewFs: couldn\'t connect SSH: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none password], no supported methods remain', "credentials"],
    ["Failed to lsf: AccessDenied: Access Denied\n\tstatus code: 403, request id: X", "credentials"],
    ["Failed to cat: unexpected EOF", "other"],
    ["Failed to cat: error in ReadFile: open /x/401/403/file: permission denied", "other"], // numbers in a path are not a login
  ];
  for (const [msg, cause] of cases) expect({ msg, cause: failureCause(line(msg)) }).toEqual({ msg, cause });
});

test("each cause has its own step; only the listed-but-unreadable marker names dest reset", () => {
  const [conn, cred, other] = (["connection", "credentials", "other"] as const).map(unreachableHint);
  expect(new Set([conn, cred, other]).size).toBe(3);
  for (const h of [conn, cred, other]) expect(h).not.toMatch(/wiped|dest (init|reset)/);
  expect(conn).toContain("nothing answers");
  expect(conn).not.toMatch(/credential|password/);
  expect(cred).toContain("refused the login");
  expect(listedButUnreadableHint("nas")).toContain("hoard dest reset nas --yes");
  expect(listedButUnreadableHint("nas")).not.toMatch(/credential|password/);
});
