// The numbered schema migrations. Each entry is applied once, in one transaction, and recorded
// in schema_version; never edit a released entry, append a new one.

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
        Two indexes: the oldest content check at a destination, and failed checks (status --check). */ `
CREATE TABLE file_classes (
  volume TEXT NOT NULL,
  status TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL,
  status_changed_run INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (volume, status, origin_node, origin_run, status_changed_run)
) STRICT, WITHOUT ROWID;
CREATE TABLE object_classes (
  destination TEXT NOT NULL,
  volume TEXT NOT NULL,
  status TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL,
  status_changed_run INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  method TEXT NOT NULL,
  checked_run INTEGER NOT NULL,
  timed INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed)
) STRICT, WITHOUT ROWID;
CREATE INDEX dest_objects_checked ON dest_objects(destination, volume, epoch, checked_at) WHERE checked_at IS NOT NULL;
CREATE INDEX dest_objects_failed ON dest_objects(destination, volume, epoch) WHERE ok = 0;

INSERT INTO file_classes SELECT f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, count(*), coalesce(sum(f.size), 0)
  FROM files f JOIN content c ON c.id = f.content_id GROUP BY 1, 2, 3, 4, 5;
INSERT INTO object_classes SELECT o.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
    coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, count(*), coalesce(sum(f.size), 0)
  FROM files f JOIN content c ON c.id = f.content_id JOIN dest_objects o ON o.volume = f.volume AND o.path = f.path AND o.content_id = f.content_id
  WHERE f.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;

CREATE TRIGGER files_classes_i AFTER INSERT ON files BEGIN
  INSERT INTO file_classes SELECT NEW.volume, NEW.status, c.origin_node, c.origin_run, NEW.status_changed_run, 1, NEW.size FROM content c WHERE c.id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
  INSERT INTO object_classes SELECT o.destination, NEW.volume, NEW.status, c.origin_node, c.origin_run, NEW.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
      coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, 1, NEW.size
    FROM dest_objects o JOIN content c ON c.id = NEW.content_id
    WHERE NEW.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations) AND o.volume = NEW.volume AND o.path = NEW.path AND o.content_id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER files_classes_d AFTER DELETE ON files BEGIN
  UPDATE file_classes SET files = files - 1, bytes = bytes - OLD.size
    WHERE (volume, status, origin_node, origin_run, status_changed_run) = (SELECT OLD.volume, OLD.status, c.origin_node, c.origin_run, OLD.status_changed_run FROM content c WHERE c.id = OLD.content_id);
  UPDATE object_classes SET files = files - 1, bytes = bytes - OLD.size
    WHERE OLD.status <> 'superseded' AND (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT o.destination, OLD.volume, OLD.status, c.origin_node, c.origin_run, OLD.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''), coalesce(o.checked_run, -1), o.checked_at IS NOT NULL
      FROM dest_objects o JOIN content c ON c.id = OLD.content_id
      WHERE o.destination IN (SELECT name FROM destinations) AND o.volume = OLD.volume AND o.path = OLD.path AND o.content_id = OLD.content_id);
  DELETE FROM file_classes WHERE volume = OLD.volume AND files = 0;
  DELETE FROM object_classes WHERE destination IN (SELECT name FROM destinations) AND volume = OLD.volume AND files = 0;
END;
CREATE TRIGGER files_classes_u AFTER UPDATE OF volume, path, content_id, status, size, status_changed_run ON files
  WHEN OLD.volume IS NOT NEW.volume OR OLD.path IS NOT NEW.path OR OLD.content_id IS NOT NEW.content_id OR OLD.status IS NOT NEW.status
    OR OLD.size IS NOT NEW.size OR OLD.status_changed_run IS NOT NEW.status_changed_run BEGIN
  UPDATE file_classes SET files = files - 1, bytes = bytes - OLD.size
    WHERE (volume, status, origin_node, origin_run, status_changed_run) = (SELECT OLD.volume, OLD.status, c.origin_node, c.origin_run, OLD.status_changed_run FROM content c WHERE c.id = OLD.content_id);
  UPDATE object_classes SET files = files - 1, bytes = bytes - OLD.size
    WHERE OLD.status <> 'superseded' AND (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT o.destination, OLD.volume, OLD.status, c.origin_node, c.origin_run, OLD.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''), coalesce(o.checked_run, -1), o.checked_at IS NOT NULL
      FROM dest_objects o JOIN content c ON c.id = OLD.content_id
      WHERE o.destination IN (SELECT name FROM destinations) AND o.volume = OLD.volume AND o.path = OLD.path AND o.content_id = OLD.content_id);
  DELETE FROM file_classes WHERE volume = OLD.volume AND files = 0;
  DELETE FROM object_classes WHERE destination IN (SELECT name FROM destinations) AND volume = OLD.volume AND files = 0;
  INSERT INTO file_classes SELECT NEW.volume, NEW.status, c.origin_node, c.origin_run, NEW.status_changed_run, 1, NEW.size FROM content c WHERE c.id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
  INSERT INTO object_classes SELECT o.destination, NEW.volume, NEW.status, c.origin_node, c.origin_run, NEW.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
      coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, 1, NEW.size
    FROM dest_objects o JOIN content c ON c.id = NEW.content_id
    WHERE NEW.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations) AND o.volume = NEW.volume AND o.path = NEW.path AND o.content_id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER dest_objects_classes_i AFTER INSERT ON dest_objects BEGIN
  INSERT INTO object_classes SELECT NEW.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, NEW.epoch, NEW.ok, coalesce(NEW.method, ''),
      coalesce(NEW.checked_run, -1), NEW.checked_at IS NOT NULL, 1, f.size
    FROM files f JOIN content c ON c.id = f.content_id
    WHERE NEW.destination IN (SELECT name FROM destinations) AND f.volume = NEW.volume AND f.path = NEW.path AND f.status <> 'superseded' AND f.content_id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER dest_objects_classes_d AFTER DELETE ON dest_objects BEGIN
  UPDATE object_classes SET files = files - 1, bytes = bytes - (SELECT f.size FROM files f WHERE f.volume = OLD.volume AND f.path = OLD.path AND f.status <> 'superseded' AND f.content_id = OLD.content_id)
    WHERE (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT OLD.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, OLD.epoch, OLD.ok, coalesce(OLD.method, ''), coalesce(OLD.checked_run, -1), OLD.checked_at IS NOT NULL
      FROM files f JOIN content c ON c.id = f.content_id
      WHERE OLD.destination IN (SELECT name FROM destinations) AND f.volume = OLD.volume AND f.path = OLD.path AND f.status <> 'superseded' AND f.content_id = OLD.content_id);
  DELETE FROM object_classes WHERE destination = OLD.destination AND volume = OLD.volume AND files = 0;
END;
CREATE TRIGGER dest_objects_classes_u AFTER UPDATE OF destination, volume, path, content_id, epoch, ok, method, checked_run, checked_at ON dest_objects
  WHEN OLD.destination IS NOT NEW.destination OR OLD.volume IS NOT NEW.volume OR OLD.path IS NOT NEW.path OR OLD.content_id IS NOT NEW.content_id OR OLD.epoch IS NOT NEW.epoch
    OR OLD.ok IS NOT NEW.ok OR OLD.method IS NOT NEW.method OR OLD.checked_run IS NOT NEW.checked_run OR (OLD.checked_at IS NULL) <> (NEW.checked_at IS NULL) BEGIN
  UPDATE object_classes SET files = files - 1, bytes = bytes - (SELECT f.size FROM files f WHERE f.volume = OLD.volume AND f.path = OLD.path AND f.status <> 'superseded' AND f.content_id = OLD.content_id)
    WHERE (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT OLD.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, OLD.epoch, OLD.ok, coalesce(OLD.method, ''), coalesce(OLD.checked_run, -1), OLD.checked_at IS NOT NULL
      FROM files f JOIN content c ON c.id = f.content_id
      WHERE OLD.destination IN (SELECT name FROM destinations) AND f.volume = OLD.volume AND f.path = OLD.path AND f.status <> 'superseded' AND f.content_id = OLD.content_id);
  DELETE FROM object_classes WHERE destination = OLD.destination AND volume = OLD.volume AND files = 0;
  INSERT INTO object_classes SELECT NEW.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, NEW.epoch, NEW.ok, coalesce(NEW.method, ''),
      coalesce(NEW.checked_run, -1), NEW.checked_at IS NOT NULL, 1, f.size
    FROM files f JOIN content c ON c.id = f.content_id
    WHERE NEW.destination IN (SELECT name FROM destinations) AND f.volume = NEW.volume AND f.path = NEW.path AND f.status <> 'superseded' AND f.content_id = NEW.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER destinations_classes_i AFTER INSERT ON destinations BEGIN
  INSERT INTO object_classes SELECT o.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
      coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, count(*), coalesce(sum(f.size), 0)
    FROM dest_objects o JOIN files f ON f.volume = o.volume AND f.path = o.path AND f.content_id = o.content_id JOIN content c ON c.id = f.content_id
    WHERE o.destination = NEW.name AND f.status <> 'superseded' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ON CONFLICT DO UPDATE SET files = files + excluded.files, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER destinations_classes_d AFTER DELETE ON destinations BEGIN
  DELETE FROM object_classes WHERE destination = OLD.name;
END;
CREATE TRIGGER destinations_classes_u AFTER UPDATE OF name ON destinations WHEN OLD.name IS NOT NEW.name BEGIN
  UPDATE object_classes SET destination = NEW.name WHERE destination = OLD.name;
END;
`,
];
