// Schema migration 6 (its text, kept apart for size): a smaller database at scale. content keeps its
// digest as 32 bytes, and dest_objects is keyed by its identity alone (WITHOUT ROWID); rows carried over exactly.

import { AGGREGATE_TRIGGERS } from "./migration-aggregates.ts";

const TRIGGERS = ["files_classes_i", "files_classes_d", "files_classes_u", "dest_objects_classes_i", "dest_objects_classes_d", "dest_objects_classes_u", "destinations_classes_i", "destinations_classes_d", "destinations_classes_u"];

/**
 * content: `hash` holds the 32 digest bytes; `blake3` is computed from it (lowercase hex, stored nowhere),
 * so every reader of c.blake3 reads what it did. The lookup by digest walks an index of the first 8 bytes
 * (a quarter of a unique index over the hex), and a trigger keeps a digest to one row: inserting one
 * already there is skipped, as the ON CONFLICT DO NOTHING of the unique column did.
 * dest_objects: its primary key is the row (no rowid and no second copy of the key in an autoindex).
 * The aggregate triggers name both tables: they are dropped first and recreated as they were; the
 * aggregates themselves stay (the rows do not change). Runs with foreign keys off; migrate() checks them.
 */
export const COMPACT_MIGRATION = `
${TRIGGERS.map((t) => `DROP TRIGGER ${t};`).join("\n")}

CREATE TABLE content_v6 (
  id INTEGER PRIMARY KEY,
  blake3 TEXT GENERATED ALWAYS AS (lower(hex(hash))) VIRTUAL,
  size INTEGER NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL REFERENCES runs(id),
  created_at INTEGER NOT NULL,
  hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
INSERT INTO content_v6(id, size, origin_node, origin_run, created_at, hash)
  SELECT id, size, origin_node, origin_run, created_at, unhex(blake3) FROM content ORDER BY id;
DROP TABLE content;
ALTER TABLE content_v6 RENAME TO content;
CREATE INDEX content_hash ON content(substr(hash, 1, 8));
CREATE TRIGGER content_hash_once BEFORE INSERT ON content
  WHEN EXISTS (SELECT 1 FROM content WHERE substr(hash, 1, 8) = substr(NEW.hash, 1, 8) AND hash = NEW.hash) BEGIN SELECT RAISE(IGNORE); END;
CREATE TRIGGER content_append_only_u BEFORE UPDATE ON content BEGIN SELECT RAISE(ABORT, 'content is append-only'); END;
CREATE TRIGGER content_append_only_d BEFORE DELETE ON content BEGIN SELECT RAISE(ABORT, 'content is append-only'); END;

CREATE TABLE dest_objects_v6 (
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
) STRICT, WITHOUT ROWID;
INSERT INTO dest_objects_v6(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run)
  SELECT destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run FROM dest_objects;
DROP TABLE dest_objects;
ALTER TABLE dest_objects_v6 RENAME TO dest_objects;
CREATE INDEX dest_objects_checked ON dest_objects(destination, volume, epoch, checked_at) WHERE checked_at IS NOT NULL;
CREATE INDEX dest_objects_failed ON dest_objects(destination, volume, epoch) WHERE ok = 0;

${AGGREGATE_TRIGGERS}`;
