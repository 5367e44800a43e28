// The numbered schema migrations. Each entry is applied once, in one transaction, and recorded
// in schema_version; never edit a released entry, append a new one.

import { AGGREGATES_MIGRATION } from "./migration-aggregates.ts";
import { COMPACT_MIGRATION } from "./migration-compact.ts";

export const MIGRATIONS: readonly string[] = [
  /* 1: foundation */ `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

CREATE TABLE volumes (
  name TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  volume TEXT,
  destination TEXT,
  touches TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'running'
    CHECK (status IN ('running','success','partial','failed','refused','aborted')),
  node TEXT NOT NULL,
  pid INTEGER NOT NULL,
  pid_start TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  counts TEXT,
  error TEXT,
  note TEXT,
  argv TEXT
) STRICT;
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';
CREATE INDEX runs_volume ON runs(volume, kind, id);

CREATE TABLE hook_runs (
  id INTEGER PRIMARY KEY,
  volume TEXT NOT NULL,
  trigger_run INTEGER REFERENCES runs(id),
  trigger TEXT NOT NULL,
  command TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running'
    CHECK (status IN ('running','success','failed','timeout','skipped','aborted')),
  node TEXT NOT NULL,
  pid INTEGER,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  exit_code INTEGER,
  signal TEXT,
  stderr_tail TEXT,
  note TEXT
) STRICT;

CREATE TABLE content (
  id INTEGER PRIMARY KEY,
  blake3 TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL REFERENCES runs(id),
  created_at INTEGER NOT NULL
) STRICT;
CREATE TRIGGER content_append_only_u BEFORE UPDATE ON content BEGIN SELECT RAISE(ABORT, 'content is append-only'); END;
CREATE TRIGGER content_append_only_d BEFORE DELETE ON content BEGIN SELECT RAISE(ABORT, 'content is append-only'); END;

CREATE TABLE content_digests (
  content_id INTEGER NOT NULL REFERENCES content(id),
  algo TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (content_id, algo)
) STRICT;

CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  volume TEXT NOT NULL REFERENCES volumes(name),
  path TEXT NOT NULL,
  content_id INTEGER NOT NULL REFERENCES content(id),
  status TEXT NOT NULL CHECK (status IN ('present','missing','offloaded','superseded')),
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ino INTEGER,
  first_seen_run INTEGER NOT NULL REFERENCES runs(id),
  last_seen_run INTEGER NOT NULL REFERENCES runs(id),
  status_changed_run INTEGER NOT NULL REFERENCES runs(id)
) STRICT;
CREATE UNIQUE INDEX files_live ON files(volume, path) WHERE status <> 'superseded';
CREATE INDEX files_content ON files(content_id);

CREATE TABLE destinations (
  name TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  identity TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  initialized_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE destination_events (
  id INTEGER PRIMARY KEY,
  destination TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('init','identity_change','reset')),
  old_identity TEXT,
  new_identity TEXT,
  epoch INTEGER NOT NULL,
  run INTEGER REFERENCES runs(id),
  at INTEGER NOT NULL,
  note TEXT
) STRICT;

CREATE TABLE evidence (
  volume TEXT NOT NULL,
  destination TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL,
  method TEXT NOT NULL,
  verified_at INTEGER,
  confirmed_run INTEGER,
  updated_at INTEGER NOT NULL,
  source TEXT NOT NULL DEFAULT 'local',
  epoch INTEGER NOT NULL,
  PRIMARY KEY (volume, destination, origin_node)
) STRICT;

CREATE TABLE evidence_history (
  id INTEGER PRIMARY KEY,
  volume TEXT NOT NULL,
  destination TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('advance','reverify','rewind','reset','expire')),
  old_run INTEGER,
  new_run INTEGER,
  method TEXT,
  run INTEGER,
  epoch INTEGER NOT NULL,
  verified_at INTEGER,
  at INTEGER NOT NULL,
  note TEXT
) STRICT;
CREATE TRIGGER evidence_history_u BEFORE UPDATE ON evidence_history BEGIN SELECT RAISE(ABORT, 'evidence history is insert-only'); END;
CREATE TRIGGER evidence_history_d BEFORE DELETE ON evidence_history BEGIN SELECT RAISE(ABORT, 'evidence history is insert-only'); END;

CREATE TABLE dest_content (
  destination TEXT NOT NULL,
  content_id INTEGER NOT NULL REFERENCES content(id),
  epoch INTEGER NOT NULL,
  run INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  method TEXT,
  verified_at INTEGER,
  reason TEXT,
  PRIMARY KEY (destination, content_id)
) STRICT;

CREATE TABLE alarms (
  id INTEGER PRIMARY KEY,
  volume TEXT NOT NULL,
  destination TEXT NOT NULL,
  path TEXT NOT NULL,
  blake3 TEXT NOT NULL,
  reason TEXT NOT NULL,
  run INTEGER NOT NULL REFERENCES runs(id),
  raised_at INTEGER NOT NULL,
  cleared_run INTEGER,
  cleared_at INTEGER
) STRICT;
CREATE INDEX alarms_open ON alarms(volume, destination) WHERE cleared_at IS NULL;
`,
  /* 2: hook runs: who runs the hook (liveness of a running row), the hook's process start time */ `
ALTER TABLE hook_runs ADD COLUMN runner_pid INTEGER;
ALTER TABLE hook_runs ADD COLUMN runner_start TEXT;
ALTER TABLE hook_runs ADD COLUMN pid_start TEXT;
CREATE INDEX hook_runs_running ON hook_runs(volume) WHERE status = 'running';
`,
  /* 3: live proof: this database's random instance id (receipts are bound to it); per-object check
        records keyed by the destination object (destination, volume, path, content), so one volume's
        success never masks another's failure; the old per-content records are copied onto every live
        row holding that content and otherwise left in place (history) */ `
INSERT OR IGNORE INTO meta(key, value) VALUES ('instance_id', lower(hex(randomblob(16))));
CREATE TABLE dest_objects (
  destination TEXT NOT NULL,
  volume TEXT NOT NULL,
  path TEXT NOT NULL,
  content_id INTEGER NOT NULL REFERENCES content(id),
  epoch INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  method TEXT,
  reason TEXT,
  run INTEGER NOT NULL,
  checked_at INTEGER,
  checked_run INTEGER,
  PRIMARY KEY (destination, volume, path, content_id)
) STRICT;
INSERT OR IGNORE INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run)
  SELECT dc.destination, f.volume, f.path, dc.content_id, dc.epoch, dc.ok, dc.method, dc.reason, dc.run,
         CASE WHEN dc.ok = 1 THEN dc.verified_at END, CASE WHEN dc.ok = 1 THEN dc.run END
  FROM dest_content dc JOIN files f ON f.content_id = dc.content_id AND f.status <> 'superseded';
`,
  /* 4: acknowledged alarms: a user may acknowledge an alarm (a file lost for good) with a note; the
        acknowledgement is kept (who, when, which run, why), never changed, and no alarm is deleted */ `
ALTER TABLE alarms ADD COLUMN acked_run INTEGER REFERENCES runs(id);
ALTER TABLE alarms ADD COLUMN acked_at INTEGER;
ALTER TABLE alarms ADD COLUMN acked_by TEXT;
ALTER TABLE alarms ADD COLUMN acked_note TEXT;
CREATE TRIGGER alarms_never_deleted BEFORE DELETE ON alarms BEGIN SELECT RAISE(ABORT, 'alarms are never deleted'); END;
CREATE TRIGGER alarms_ack_kept BEFORE UPDATE OF acked_run, acked_at, acked_by, acked_note ON alarms
  WHEN OLD.acked_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'an alarm acknowledgement is never changed'); END;
`,
  /* 5: aggregates for `status` at scale, kept by triggers in the transaction that changes a row:
        file_classes counts files and bytes per (volume, status, origin, origin run, status-changed run);
        object_classes counts live files per destination and per the gate-relevant fields of their
        latest object check (epoch, verdict, method, content-check run, whether it has a check time).
        A NULL method is stored as '' and a NULL checked_run as -1 (the gate treats them alike).
        Two indexes: the oldest content check at a destination, and failed checks (status --check). */ AGGREGATES_MIGRATION,
  /* 6: a smaller database at scale: content's digest kept as 32 bytes (the hex blake3 column is computed
        from it) with an index of its first 8 bytes; dest_objects WITHOUT ROWID (its key is the row) */ COMPACT_MIGRATION,
];
