// Schema migration 5 (its text, kept apart for size): the per-class aggregates `status` reads and the
// triggers that keep them in the transaction that changes files, dest_objects or destinations rows.

/** The row a trigger reads: the new one (an insert, an update's new side) or the old one. */
type Row = "NEW" | "OLD";
// the same statements in every trigger: a files row (or dest_objects row) counted into, or out of, its classes
const fileAdd = (R: Row) => `  INSERT INTO file_classes SELECT ${R}.volume, ${R}.status, c.origin_node, c.origin_run, ${R}.status_changed_run, 1, ${R}.size FROM content c WHERE c.id = ${R}.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
  INSERT INTO object_classes SELECT o.destination, ${R}.volume, ${R}.status, c.origin_node, c.origin_run, ${R}.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
      coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, 1, ${R}.size
    FROM dest_objects o JOIN content c ON c.id = ${R}.content_id
    WHERE ${R}.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations) AND o.volume = ${R}.volume AND o.path = ${R}.path AND o.content_id = ${R}.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
`;
const fileSub = (R: Row) => `  UPDATE file_classes SET files = files - 1, bytes = bytes - ${R}.size
    WHERE (volume, status, origin_node, origin_run, status_changed_run) = (SELECT ${R}.volume, ${R}.status, c.origin_node, c.origin_run, ${R}.status_changed_run FROM content c WHERE c.id = ${R}.content_id);
  UPDATE object_classes SET files = files - 1, bytes = bytes - ${R}.size
    WHERE ${R}.status <> 'superseded' AND (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT o.destination, ${R}.volume, ${R}.status, c.origin_node, c.origin_run, ${R}.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''), coalesce(o.checked_run, -1), o.checked_at IS NOT NULL
      FROM dest_objects o JOIN content c ON c.id = ${R}.content_id
      WHERE o.destination IN (SELECT name FROM destinations) AND o.volume = ${R}.volume AND o.path = ${R}.path AND o.content_id = ${R}.content_id);
  DELETE FROM file_classes WHERE volume = ${R}.volume AND files = 0;
  DELETE FROM object_classes WHERE destination IN (SELECT name FROM destinations) AND volume = ${R}.volume AND files = 0;
`;
const objAdd = (R: Row) => `  INSERT INTO object_classes SELECT ${R}.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, ${R}.epoch, ${R}.ok, coalesce(${R}.method, ''),
      coalesce(${R}.checked_run, -1), ${R}.checked_at IS NOT NULL, 1, f.size
    FROM files f JOIN content c ON c.id = f.content_id
    WHERE ${R}.destination IN (SELECT name FROM destinations) AND f.volume = ${R}.volume AND f.path = ${R}.path AND f.status <> 'superseded' AND f.content_id = ${R}.content_id
    ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
`;
const objSub = (R: Row) => `  UPDATE object_classes SET files = files - 1, bytes = bytes - (SELECT f.size FROM files f WHERE f.volume = ${R}.volume AND f.path = ${R}.path AND f.status <> 'superseded' AND f.content_id = ${R}.content_id)
    WHERE (destination, volume, status, origin_node, origin_run, status_changed_run, epoch, ok, method, checked_run, timed) IN (
      SELECT ${R}.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, ${R}.epoch, ${R}.ok, coalesce(${R}.method, ''), coalesce(${R}.checked_run, -1), ${R}.checked_at IS NOT NULL
      FROM files f JOIN content c ON c.id = f.content_id
      WHERE ${R}.destination IN (SELECT name FROM destinations) AND f.volume = ${R}.volume AND f.path = ${R}.path AND f.status <> 'superseded' AND f.content_id = ${R}.content_id);
  DELETE FROM object_classes WHERE destination = ${R}.destination AND volume = ${R}.volume AND files = 0;
`;

/** The triggers that keep the aggregates (migration 6 recreates them after rebuilding content and dest_objects). */
export const AGGREGATE_TRIGGERS = `CREATE TRIGGER files_classes_i AFTER INSERT ON files BEGIN
${fileAdd("NEW")}END;
CREATE TRIGGER files_classes_d AFTER DELETE ON files BEGIN
${fileSub("OLD")}END;
CREATE TRIGGER files_classes_u AFTER UPDATE OF volume, path, content_id, status, size, status_changed_run ON files
  WHEN OLD.volume IS NOT NEW.volume OR OLD.path IS NOT NEW.path OR OLD.content_id IS NOT NEW.content_id OR OLD.status IS NOT NEW.status
    OR OLD.size IS NOT NEW.size OR OLD.status_changed_run IS NOT NEW.status_changed_run BEGIN
${fileSub("OLD")}${fileAdd("NEW")}END;
CREATE TRIGGER dest_objects_classes_i AFTER INSERT ON dest_objects BEGIN
${objAdd("NEW")}END;
CREATE TRIGGER dest_objects_classes_d AFTER DELETE ON dest_objects BEGIN
${objSub("OLD")}END;
CREATE TRIGGER dest_objects_classes_u AFTER UPDATE OF destination, volume, path, content_id, epoch, ok, method, checked_run, checked_at ON dest_objects
  WHEN OLD.destination IS NOT NEW.destination OR OLD.volume IS NOT NEW.volume OR OLD.path IS NOT NEW.path OR OLD.content_id IS NOT NEW.content_id OR OLD.epoch IS NOT NEW.epoch
    OR OLD.ok IS NOT NEW.ok OR OLD.method IS NOT NEW.method OR OLD.checked_run IS NOT NEW.checked_run OR (OLD.checked_at IS NULL) <> (NEW.checked_at IS NULL) BEGIN
${objSub("OLD")}${objAdd("NEW")}END;
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
`;

export const AGGREGATES_MIGRATION = `
CREATE TABLE file_classes (
  volume TEXT NOT NULL,
  status TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  origin_run INTEGER NOT NULL,
  status_changed_run INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (volume, status, origin_node, origin_run, status_changed_run)
) STRICT;
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
) STRICT;
CREATE INDEX dest_objects_checked ON dest_objects(destination, volume, epoch, checked_at) WHERE checked_at IS NOT NULL;
CREATE INDEX dest_objects_failed ON dest_objects(destination, volume, epoch) WHERE ok = 0;

INSERT INTO file_classes SELECT f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, count(*), coalesce(sum(f.size), 0)
  FROM files f JOIN content c ON c.id = f.content_id GROUP BY 1, 2, 3, 4, 5;
INSERT INTO object_classes SELECT o.destination, f.volume, f.status, c.origin_node, c.origin_run, f.status_changed_run, o.epoch, o.ok, coalesce(o.method, ''),
    coalesce(o.checked_run, -1), o.checked_at IS NOT NULL, count(*), coalesce(sum(f.size), 0)
  FROM files f JOIN content c ON c.id = f.content_id JOIN dest_objects o ON o.volume = f.volume AND o.path = f.path AND o.content_id = f.content_id
  WHERE f.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;

${AGGREGATE_TRIGGERS}`;
