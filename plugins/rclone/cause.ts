// Why an rclone call could not reach the remote, read from its stderr: nothing answering, a refused
// login, or something else; each gets its own next step (a wrong guess would send the user the wrong way).

export type Cause = "connection" | "credentials" | "other";

// what Go's net package and rclone's backends print when nothing answers at the address
const CONNECTION = /connection refused|no such host|network is unreachable|no route to host|i\/o timeout|connection reset by peer|connection timed out|dial tcp|server misbehaving|TLS handshake timeout|context deadline exceeded/i;
// a login the remote refused: HTTP 401/403 (WebDAV, S3, B2, …), ssh, FTP and token failures; a bare
// number is not enough (a path or port may hold one)
const CREDENTIALS = /unauthori[sz]ed|forbidden|status code:? 40[13]\b|authentication failed|unable to authenticate|auth(entication)? error|invalid (credentials|password|token|access key)|access ?denied|login (failed|incorrect)|SignatureDoesNotMatch|InvalidAccessKeyId|invalid_grant|token (has been )?expired|\b530 Login\b/i;

/** The cause of a failed rclone call from its stderr (Go's network errors are unmistakable, so they are looked for first). */
export function failureCause(stderr: string): Cause {
  if (CONNECTION.test(stderr)) return "connection";
  if (CREDENTIALS.test(stderr)) return "credentials";
  return "other";
}

/** The next step for a remote that could not be read, by cause. Never suggests it was wiped: it was not seen at all. */
export function unreachableHint(cause: Cause): string {
  const never = "an unreadable destination is never treated as uninitialised";
  if (cause === "connection") return `nothing answers at the remote's address: start its server or get back online, or fix its address (host, port, URL) in rclone.conf or the RCLONE_CONFIG_* variables, then run \`hoard doctor\`; ${never}`;
  if (cause === "credentials") return `the remote refused the login: fix its user, password or token in rclone.conf or the RCLONE_CONFIG_* variables, then run \`hoard doctor\`; ${never}`;
  return `check that the remote is reachable and its credentials (rclone.conf or RCLONE_CONFIG_* variables) are right; ${never}`;
}

/**
 * The next step when the remote lists the identity marker but cannot deliver its bytes: what a server
 * (`rclone serve webdav`, …) does when its storage was wiped behind its back while it still caches the
 * old listing. Neither a connection nor a credentials problem.
 */
export function listedButUnreadableHint(dest: string): string {
  return `the server lists the identity marker but fails to send it: its storage was probably wiped or changed behind its back (a server such as \`rclone serve\` caches directory listings). Restart the server (or wait for its cache to expire) and run \`hoard doctor\`; if the destination was wiped, \`hoard dest reset ${dest} --yes\` gives it a new identity (everything is pushed and verified again before any offload)`;
}
