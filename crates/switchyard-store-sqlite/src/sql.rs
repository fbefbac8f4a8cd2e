//! Every SQL statement the SQLite store runs, and its numbered migrations.
//!
//! Kept in one place so a PostgreSQL backend can mirror it statement by statement. Notes for
//! that port: `BLOB` is `BYTEA`, `INTEGER` is `BIGINT`, `BEGIN IMMEDIATE` is `BEGIN` plus
//! `SELECT ... FOR UPDATE` on the counter row, and listing must sort with `COLLATE "C"` to
//! keep SQLite's byte order.

pub(crate) use switchyard_sqlite::{BEGIN, COMMIT, Migration, ROLLBACK};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "objects, resource version counter, meta",
        sql: "
        CREATE TABLE objects (
            kind             TEXT    NOT NULL,
            namespace        TEXT    NOT NULL,
            name             TEXT    NOT NULL,
            uid              TEXT    NOT NULL UNIQUE,
            resource_version INTEGER NOT NULL,
            generation       INTEGER NOT NULL,
            created_at       TEXT    NOT NULL,
            body             BLOB    NOT NULL,
            sealed           INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, namespace, name)
        );
        CREATE TABLE counters (
            name  TEXT    PRIMARY KEY,
            value INTEGER NOT NULL
        );
        INSERT INTO counters (name, value) VALUES ('resource_version', 0);
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
    ",
    },
    // Logs hang off the object's uid, not its name, so they belong to one incarnation. The
    // primary key's index serves reading one log, the upsert, and the cascade that deletes an
    // object's logs with it (SQLite looks the children up by `object_uid`).
    Migration {
        version: 2,
        name: "step logs",
        sql: "
        CREATE TABLE step_logs (
            object_uid TEXT NOT NULL REFERENCES objects (uid) ON DELETE CASCADE,
            step       TEXT NOT NULL,
            text       TEXT NOT NULL,
            PRIMARY KEY (object_uid, step)
        );
    ",
    },
    // The event ledger. A consumption is unique per sensor incarnation (uid) and event key:
    // that constraint is what makes a redelivered event a no-op. Firings outlive the
    // consumptions that made them (a deleted sensor's owed triggers still run), so they keep
    // the consumption's sequence number, not a foreign key. Times are RFC 3339 in UTC with
    // microseconds, so text order is time order.
    Migration {
        version: 3,
        name: "event ledger",
        sql: "
        CREATE TABLE sensor_states (
            uid       TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            name      TEXT NOT NULL,
            state     TEXT NOT NULL
        );
        CREATE TABLE consumptions (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            sensor_uid   TEXT NOT NULL,
            namespace    TEXT NOT NULL,
            sensor       TEXT NOT NULL,
            event_key    TEXT NOT NULL,
            event_id     TEXT NOT NULL,
            event_source TEXT NOT NULL,
            event_name   TEXT NOT NULL,
            at           TEXT NOT NULL,
            outcome      TEXT NOT NULL,
            UNIQUE (sensor_uid, event_key)
        );
        CREATE TABLE firings (
            key         TEXT PRIMARY KEY,
            consumption INTEGER NOT NULL,
            namespace   TEXT NOT NULL,
            sensor      TEXT NOT NULL,
            sensor_uid  TEXT NOT NULL,
            trigger     TEXT NOT NULL,
            payload     TEXT NOT NULL,
            status      TEXT NOT NULL,
            attempts    INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            not_before  TEXT NOT NULL,
            detail      TEXT NOT NULL
        );
        CREATE INDEX firings_due ON firings (status, not_before);
        CREATE INDEX firings_by_consumption ON firings (consumption);
    ",
    },
    Migration {
        version: 4,
        name: "consumptions by event id",
        // The platform API follows an order (whose id is its event's id) to what sensors did.
        sql: "CREATE INDEX consumptions_by_event_id ON consumptions (event_id);",
    },
    Migration {
        version: 5,
        name: "leases",
        // Times are milliseconds since the Unix epoch.
        sql: "
        CREATE TABLE leases (
            name       TEXT    PRIMARY KEY,
            holder     TEXT    NOT NULL,
            token      INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );",
    },
];

pub(crate) const SELECT_LEASE: &str =
    "SELECT holder, token, expires_at FROM leases WHERE name = ?1";
pub(crate) const SELECT_LEASE_TOKEN: &str = "SELECT token FROM leases WHERE name = ?1";
pub(crate) const UPSERT_LEASE: &str = "
    INSERT INTO leases (name, holder, token, expires_at) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (name) DO UPDATE SET holder = ?2, token = ?3, expires_at = ?4";
pub(crate) const RELEASE_LEASE: &str =
    "UPDATE leases SET expires_at = ?3 WHERE name = ?1 AND holder = ?2";

pub(crate) const SAVEPOINT: &str = "SAVEPOINT job";
pub(crate) const RELEASE: &str = "RELEASE job";
pub(crate) const ROLLBACK_TO: &str = "ROLLBACK TO job";

/// Takes the next global resource version.
pub(crate) const NEXT_RESOURCE_VERSION: &str =
    "UPDATE counters SET value = value + 1 WHERE name = 'resource_version' RETURNING value";

/// Column order shared by every object SELECT; see `ops::read_row`.
macro_rules! object_columns {
    () => {
        "kind, namespace, name, uid, resource_version, generation, created_at, body, sealed"
    };
}

pub(crate) const SELECT_OBJECT: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3"
);

pub(crate) const LIST_OBJECTS: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = ?1 ORDER BY namespace, name"
);

pub(crate) const LIST_OBJECTS_IN_NAMESPACE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = ?1 AND namespace = ?2 ORDER BY name"
);

/// A page across namespaces: objects after (?2, ?3), ?4 of them at most.
pub(crate) const LIST_PAGE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = ?1 AND (namespace, name) > (?2, ?3) ORDER BY namespace, name LIMIT ?4"
);

/// A page of one namespace (?2): objects named after ?3, ?4 of them at most.
pub(crate) const LIST_PAGE_IN_NAMESPACE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = ?1 AND namespace = ?2 AND name > ?3 ORDER BY name LIMIT ?4"
);

pub(crate) const OBJECT_EXISTS: &str =
    "SELECT 1 FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3";

pub(crate) const INSERT_OBJECT: &str = "
    INSERT INTO objects (kind, namespace, name, uid, resource_version, generation, created_at, body, sealed)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

pub(crate) const UPDATE_OBJECT: &str = "
    UPDATE objects SET resource_version = ?4, generation = ?5, body = ?6, sealed = ?7
    WHERE kind = ?1 AND namespace = ?2 AND name = ?3";

/// Deletes the object; `ON DELETE CASCADE` deletes its step logs in the same statement.
pub(crate) const DELETE_OBJECT: &str =
    "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3";

pub(crate) const SELECT_META: &str = "SELECT value FROM meta WHERE key = ?1";
pub(crate) const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
pub(crate) const DELETE_META: &str = "DELETE FROM meta WHERE key = ?1";

/// Writes one step's log for an object incarnation, replacing an earlier one.
pub(crate) const UPSERT_STEP_LOG: &str = "
    INSERT INTO step_logs (object_uid, step, text) VALUES (?1, ?2, ?3)
    ON CONFLICT (object_uid, step) DO UPDATE SET text = excluded.text";

/// One step's log of the object that exists now under this key.
pub(crate) const SELECT_STEP_LOG: &str = "
    SELECT step_logs.text FROM objects
    JOIN step_logs ON step_logs.object_uid = objects.uid
    WHERE objects.kind = ?1 AND objects.namespace = ?2 AND objects.name = ?3 AND step_logs.step = ?4";

pub(crate) const SELECT_SENSOR_STATE: &str = "SELECT state FROM sensor_states WHERE uid = ?1";
pub(crate) const UPSERT_SENSOR_STATE: &str = "
    INSERT INTO sensor_states (uid, namespace, name, state) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (uid) DO UPDATE SET state = excluded.state";
/// Records a consumption unless the sensor consumed the event before (no row inserted then).
pub(crate) const INSERT_CONSUMPTION: &str = "
    INSERT INTO consumptions (sensor_uid, namespace, sensor, event_key, event_id, event_source, event_name, at, outcome)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (sensor_uid, event_key) DO NOTHING";
/// Adds a firing; an existing key is kept as it is.
pub(crate) const INSERT_FIRING: &str = "
    INSERT INTO firings (key, consumption, namespace, sensor, sensor_uid, trigger, payload, status, attempts, created_at, not_before, detail)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8, '')
    ON CONFLICT (key) DO NOTHING";

/// Column order shared by every firing SELECT; see `ledger::firing_row`.
macro_rules! firing_columns {
    () => {
        "key, namespace, sensor, sensor_uid, trigger, payload, status, attempts, created_at, not_before, detail"
    };
}

pub(crate) const DUE_FIRINGS: &str = concat!(
    "SELECT ",
    firing_columns!(),
    " FROM firings WHERE status = 'pending' AND not_before <= ?1 ORDER BY not_before, created_at, key LIMIT ?2"
);
pub(crate) const FIRINGS_OF_CONSUMPTION: &str = concat!(
    "SELECT ",
    firing_columns!(),
    " FROM firings WHERE consumption = ?1 ORDER BY key"
);
pub(crate) const SETTLE_FIRING: &str =
    "UPDATE firings SET status = ?2, detail = ?3 WHERE key = ?1 AND status = 'pending'";
pub(crate) const RETRY_FIRING: &str = "
    UPDATE firings SET attempts = attempts + 1, not_before = ?2, detail = ?3
    WHERE key = ?1 AND status = 'pending'";
/// Recent consumptions, newest first, each filter applied when its parameter is not NULL.
pub(crate) const RECENT_CONSUMPTIONS: &str = "
    SELECT seq, namespace, sensor, sensor_uid, event_id, event_source, event_name, at, outcome
    FROM consumptions
    WHERE (?1 IS NULL OR namespace = ?1) AND (?2 IS NULL OR event_source = ?2) AND (?3 IS NULL OR sensor = ?3)
      AND (?5 IS NULL OR event_id = ?5)
    ORDER BY seq DESC LIMIT ?4";
pub(crate) const DELETE_SENSOR_STATE: &str = "DELETE FROM sensor_states WHERE uid = ?1";
pub(crate) const DELETE_CONSUMPTIONS: &str = "DELETE FROM consumptions WHERE sensor_uid = ?1";
