//! Every SQL statement the PostgreSQL store runs, and its numbered migrations.
//!
//! The tables mirror the SQLite store's (`switchyard-store-sqlite/src/sql.rs`) with these
//! differences:
//! - Names that are sorted or compared (`kind`, `namespace`, `name`, firing keys) are
//!   `COLLATE "C"`: byte order, as SQLite's, whatever the database's default collation.
//! - Times are `TIMESTAMPTZ` (microseconds, as SQLite's text), bodies `BYTEA`.
//! - PostgreSQL text cannot hold the NUL character, which SQLite text can. Text that comes
//!   from outside and that nothing validated (event keys, ids, sources and names, firing
//!   details, step logs) is therefore `BYTEA` holding its UTF-8, so every string round-trips
//!   exactly; names the platform validated stay `TEXT`.
//! - Statements name tables without a schema: every connection's `search_path` is the
//!   store's schema (see `config.rs`).

/// One schema step. Versions are 1, 2, 3, ... with no gaps; a step is never edited once
/// released: change the schema by adding a step.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "objects, resource version counter, meta",
        sql: r#"
        CREATE TABLE objects (
            kind             TEXT COLLATE "C" NOT NULL,
            namespace        TEXT COLLATE "C" NOT NULL,
            name             TEXT COLLATE "C" NOT NULL,
            uid              TEXT             NOT NULL UNIQUE,
            resource_version BIGINT           NOT NULL,
            generation       BIGINT           NOT NULL,
            created_at       TIMESTAMPTZ      NOT NULL,
            body             BYTEA            NOT NULL,
            sealed           BOOLEAN          NOT NULL DEFAULT FALSE,
            PRIMARY KEY (kind, namespace, name)
        );
        CREATE TABLE counters (
            name  TEXT   PRIMARY KEY,
            value BIGINT NOT NULL
        );
        INSERT INTO counters (name, value) VALUES ('resource_version', 0);
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
    "#,
    },
    // Logs hang off the object's uid, not its name, so they belong to one incarnation; the
    // cascade deletes them with it, finding them through the primary key's prefix.
    Migration {
        version: 2,
        name: "step logs",
        sql: r#"
        CREATE TABLE step_logs (
            object_uid TEXT  NOT NULL REFERENCES objects (uid) ON DELETE CASCADE,
            step       TEXT  NOT NULL,
            text       BYTEA NOT NULL,
            PRIMARY KEY (object_uid, step)
        );
    "#,
    },
    // The event ledger. A consumption is unique per sensor incarnation (uid) and event key:
    // that constraint is what makes a redelivered event a no-op, in every process at once.
    // Firings outlive the consumptions that made them, so they keep the consumption's
    // sequence number, not a foreign key. Due firings are found through a partial index
    // holding only pending ones, already in the order they are listed in.
    Migration {
        version: 3,
        name: "event ledger",
        sql: r#"
        CREATE TABLE sensor_states (
            uid       TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            name      TEXT NOT NULL,
            state     TEXT NOT NULL
        );
        CREATE TABLE consumptions (
            seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sensor_uid   TEXT             NOT NULL,
            namespace    TEXT COLLATE "C" NOT NULL,
            sensor       TEXT COLLATE "C" NOT NULL,
            event_key    BYTEA            NOT NULL,
            event_id     BYTEA            NOT NULL,
            event_source BYTEA            NOT NULL,
            event_name   BYTEA            NOT NULL,
            at           TIMESTAMPTZ      NOT NULL,
            outcome      TEXT             NOT NULL,
            UNIQUE (sensor_uid, event_key)
        );
        CREATE TABLE firings (
            key         TEXT COLLATE "C" PRIMARY KEY,
            consumption BIGINT           NOT NULL,
            namespace   TEXT             NOT NULL,
            sensor      TEXT             NOT NULL,
            sensor_uid  TEXT             NOT NULL,
            trigger     TEXT             NOT NULL,
            payload     TEXT             NOT NULL,
            status      TEXT             NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
            attempts    INTEGER          NOT NULL,
            created_at  TIMESTAMPTZ      NOT NULL,
            not_before  TIMESTAMPTZ      NOT NULL,
            detail      BYTEA            NOT NULL
        );
        CREATE INDEX firings_due ON firings (not_before, created_at, key) WHERE status = 'pending';
        CREATE INDEX firings_by_consumption ON firings (consumption);
    "#,
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
        sql: "
        CREATE TABLE leases (
            name       TEXT        PRIMARY KEY,
            holder     TEXT        NOT NULL,
            token      BIGINT      NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        );",
    },
];

/// Takes a free or expired lease (token + 1) or renews the caller's (same token), in one
/// statement against the server's clock; no row when another holder's lease stands.
pub(crate) const ACQUIRE_LEASE: &str = "
    INSERT INTO leases AS l (name, holder, token, expires_at)
    VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET
        holder = EXCLUDED.holder,
        token = CASE WHEN l.holder = EXCLUDED.holder THEN l.token ELSE l.token + 1 END,
        expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at <= clock_timestamp()
    RETURNING holder, token, expires_at";
pub(crate) const SELECT_LEASE: &str =
    "SELECT holder, token, expires_at FROM leases WHERE name = $1";
pub(crate) const RELEASE_LEASE: &str =
    "UPDATE leases SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2";
/// The lease row is locked until the write's transaction ends, so a new holder cannot take
/// it between the check and the commit.
pub(crate) const LEASE_TOKEN_FOR_SHARE: &str = "SELECT token FROM leases WHERE name = $1 FOR SHARE";

/// First key of the advisory lock that serializes migrations; the second is the schema's
/// hash, so stores in different schemas migrate independently. ("SWYD" in ASCII.)
pub(crate) const MIGRATION_LOCK_CLASS: i32 = 0x5357_5944;
/// Waits for the migration lock of one schema; released when the transaction ends.
pub(crate) const LOCK_MIGRATIONS: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
/// Facts about the server checked before anything else.
pub(crate) const SERVER_FACTS: &str =
    "SELECT current_setting('server_version_num')::integer, current_setting('server_encoding')";
/// The table that records applied migrations (in the store's schema, on the search path).
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS migrations (
        version    BIGINT      PRIMARY KEY,
        name       TEXT        NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )";
pub(crate) const SELECT_MIGRATIONS: &str = "SELECT version FROM migrations ORDER BY version";
pub(crate) const INSERT_MIGRATION: &str = "INSERT INTO migrations (version, name) VALUES ($1, $2)";

/// Locks the resource version counter until the transaction ends. Every store write takes
/// it first, so writes run one at a time across every process (see the crate docs).
pub(crate) const LOCK_RESOURCE_VERSION: &str =
    "SELECT value FROM counters WHERE name = 'resource_version' FOR UPDATE";
/// Records the last resource version a write took.
pub(crate) const SET_RESOURCE_VERSION: &str =
    "UPDATE counters SET value = $1 WHERE name = 'resource_version'";

/// Column order shared by every object SELECT; see `ops::raw_row`.
macro_rules! object_columns {
    () => {
        "kind, namespace, name, uid, resource_version, generation, created_at, body, sealed"
    };
}

pub(crate) const SELECT_OBJECT: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3"
);

pub(crate) const LIST_OBJECTS: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = $1 ORDER BY namespace, name"
);

pub(crate) const LIST_OBJECTS_IN_NAMESPACE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = $1 AND namespace = $2 ORDER BY name"
);

/// A page across namespaces: objects after ($2, $3), $4 of them at most.
pub(crate) const LIST_PAGE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = $1 AND (namespace, name) > ($2, $3) ORDER BY namespace, name LIMIT $4"
);

/// A page of one namespace ($2): objects named after $3, $4 of them at most.
pub(crate) const LIST_PAGE_IN_NAMESPACE: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE kind = $1 AND namespace = $2 AND name > $3 ORDER BY name LIMIT $4"
);

pub(crate) const OBJECT_EXISTS: &str =
    "SELECT 1 FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3";

pub(crate) const INSERT_OBJECT: &str = "
    INSERT INTO objects (kind, namespace, name, uid, resource_version, generation, created_at, body, sealed)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) const UPDATE_OBJECT: &str = "
    UPDATE objects SET resource_version = $4, generation = $5, body = $6, sealed = $7
    WHERE kind = $1 AND namespace = $2 AND name = $3";

/// Deletes the object; `ON DELETE CASCADE` deletes its step logs in the same statement.
pub(crate) const DELETE_OBJECT: &str =
    "DELETE FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3";

pub(crate) const SELECT_META: &str = "SELECT value FROM meta WHERE key = $1";
pub(crate) const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
pub(crate) const DELETE_META: &str = "DELETE FROM meta WHERE key = $1";

/// Writes the step logs of one object incarnation ($1), one per step ($2, $3 in step), each
/// replacing an earlier one; one round trip for any number of logs. The steps must be
/// distinct: one statement cannot update a row twice.
pub(crate) const UPSERT_STEP_LOGS: &str = "
    INSERT INTO step_logs (object_uid, step, text)
    SELECT $1, step, text FROM unnest($2::text[], $3::bytea[]) AS logs (step, text)
    ON CONFLICT (object_uid, step) DO UPDATE SET text = excluded.text";

/// One step's log of the object that exists now under this key.
pub(crate) const SELECT_STEP_LOG: &str = "
    SELECT step_logs.text FROM objects
    JOIN step_logs ON step_logs.object_uid = objects.uid
    WHERE objects.kind = $1 AND objects.namespace = $2 AND objects.name = $3 AND step_logs.step = $4";

pub(crate) const SELECT_SENSOR_STATE: &str = "SELECT state FROM sensor_states WHERE uid = $1";
pub(crate) const UPSERT_SENSOR_STATE: &str = "
    INSERT INTO sensor_states (uid, namespace, name, state) VALUES ($1, $2, $3, $4)
    ON CONFLICT (uid) DO UPDATE SET state = excluded.state";

/// A whole consumption in ONE statement, so one round trip and its own transaction: the
/// consumption row, and only if it was new, the sensor's state and the firings. Returns the
/// consumption's sequence number, or no row when the sensor consumed the event before.
///
/// Exactly once across processes rests on the unique (sensor_uid, event_key) index: a
/// concurrent insert of the same pair waits for the first to commit or roll back, then does
/// nothing (or inserts, if the first rolled back). Firings are inserted in key order, so two
/// consumptions that share firing keys lock them in the same order and cannot deadlock.
///
/// Parameters: $1 sensor uid, $2 namespace, $3 sensor name, $4 event key, $5 event id,
/// $6 event source, $7 event name, $8 time, $9 outcome, $10 state, $11 firing keys,
/// $12 firing triggers, $13 firing payloads (the last three of one length).
pub(crate) const CONSUME: &str = "
    WITH consumed AS (
        INSERT INTO consumptions (sensor_uid, namespace, sensor, event_key, event_id, event_source, event_name, at, outcome)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (sensor_uid, event_key) DO NOTHING
        RETURNING seq
    ),
    state AS (
        INSERT INTO sensor_states (uid, namespace, name, state)
        SELECT $1, $2, $3, $10 FROM consumed
        ON CONFLICT (uid) DO UPDATE SET state = excluded.state
    ),
    fired AS (
        INSERT INTO firings (key, consumption, namespace, sensor, sensor_uid, trigger, payload, status, attempts, created_at, not_before, detail)
        SELECT f.key, consumed.seq, $2, $3, $1, f.trigger, f.payload, 'pending', 0, $8, $8, ''::bytea
        FROM consumed, unnest($11::text[], $12::text[], $13::text[]) AS f (key, trigger, payload)
        ORDER BY f.key
        ON CONFLICT (key) DO NOTHING
    )
    SELECT seq FROM consumed";

/// Column order shared by every firing SELECT; see `ledger::firing`.
macro_rules! firing_columns {
    () => {
        "f.key, f.namespace, f.sensor, f.sensor_uid, f.trigger, f.payload, f.status, f.attempts, f.created_at, f.not_before, f.detail"
    };
}

pub(crate) const DUE_FIRINGS: &str = concat!(
    "SELECT ",
    firing_columns!(),
    " FROM firings f WHERE f.status = 'pending' AND f.not_before <= $1 ORDER BY f.not_before, f.created_at, f.key LIMIT $2"
);
pub(crate) const SETTLE_FIRING: &str =
    "UPDATE firings SET status = $2, detail = $3 WHERE key = $1 AND status = 'pending'";
pub(crate) const RETRY_FIRING: &str = "
    UPDATE firings SET attempts = attempts + 1, not_before = $2, detail = $3
    WHERE key = $1 AND status = 'pending'";

/// Recent consumptions, newest first, each filter applied when its parameter is not NULL,
/// with the firings each completed (one row per firing, or one row of NULLs when it completed
/// none). One statement, so one snapshot: a firing is never listed without its consumption.
pub(crate) const RECENT_EVENTS: &str = concat!(
    "WITH recent AS (
        SELECT seq, namespace, sensor, sensor_uid, event_id, event_source, event_name, at, outcome
        FROM consumptions
        WHERE ($1::text IS NULL OR namespace = $1) AND ($2::bytea IS NULL OR event_source = $2)
          AND ($3::text IS NULL OR sensor = $3) AND ($5::bytea IS NULL OR event_id = $5)
        ORDER BY seq DESC LIMIT $4
    )
    SELECT r.seq, r.namespace, r.sensor, r.sensor_uid, r.event_id, r.event_source, r.event_name, r.at, r.outcome, ",
    firing_columns!(),
    " FROM recent r LEFT JOIN firings f ON f.consumption = r.seq
    ORDER BY r.seq DESC, f.key"
);

/// Forgets a sensor incarnation's state and consumptions in one statement.
pub(crate) const FORGET_SENSOR: &str = "
    WITH state AS (DELETE FROM sensor_states WHERE uid = $1)
    DELETE FROM consumptions WHERE sensor_uid = $1";
