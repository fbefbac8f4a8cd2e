//! Every SQL statement the embedded bus runs, and its numbered migrations.
//!
//! Times are nanoseconds since the Unix epoch (`INTEGER`). Sequences are the `messages` rowid,
//! assigned by the writer (never by SQLite), so they are never reused even when retention
//! has removed every message: the last one assigned is kept in `stream.last_seq`.

pub(crate) use switchyard_sqlite::{BEGIN, COMMIT, Migration, ROLLBACK};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "messages, stream state, consumers",
    // `payload` is the last column so that scanning subjects (consumer filters) does not
    // read a large payload's overflow pages. The partial index serves dedup lookups only;
    // messages without an id cost nothing there. `size` is what `max_bytes` counts.
    // Consumer ids are AUTOINCREMENT so a consumer deleted and created again under the same
    // name never sees acks written for the old one.
    sql: "
        CREATE TABLE messages (
            seq          INTEGER PRIMARY KEY,
            published_at INTEGER NOT NULL,
            subject      TEXT    NOT NULL,
            dedup_id     TEXT,
            size         INTEGER NOT NULL,
            headers      TEXT,
            payload      BLOB    NOT NULL
        );
        CREATE INDEX messages_by_dedup_id ON messages (dedup_id) WHERE dedup_id IS NOT NULL;
        CREATE TABLE stream (
            id                INTEGER PRIMARY KEY CHECK (id = 1),
            last_seq          INTEGER NOT NULL,
            last_published_at INTEGER NOT NULL,
            bytes             INTEGER NOT NULL
        );
        INSERT INTO stream (id, last_seq, last_published_at, bytes) VALUES (1, 0, 0, 0);
        CREATE TABLE consumers (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            name            TEXT    NOT NULL UNIQUE,
            filters         TEXT    NOT NULL,
            ack_wait_ns     INTEGER NOT NULL,
            max_ack_pending INTEGER NOT NULL,
            ack_floor       INTEGER NOT NULL,
            created_at      INTEGER NOT NULL
        );
        CREATE TABLE consumer_acks (
            consumer_id INTEGER NOT NULL,
            seq         INTEGER NOT NULL,
            PRIMARY KEY (consumer_id, seq)
        ) WITHOUT ROWID;
    ",
}];

// ---- stream --------------------------------------------------------------------------------

pub(crate) const SELECT_STREAM: &str =
    "SELECT last_seq, last_published_at, bytes FROM stream WHERE id = 1";
pub(crate) const UPDATE_STREAM: &str =
    "UPDATE stream SET last_seq = ?1, last_published_at = ?2, bytes = ?3 WHERE id = 1";
pub(crate) const FIRST_SEQ: &str = "SELECT seq FROM messages ORDER BY seq LIMIT 1";

// ---- messages ------------------------------------------------------------------------------

pub(crate) const INSERT_MESSAGE: &str = "
    INSERT INTO messages (seq, published_at, subject, dedup_id, size, headers, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The latest message with this dedup id, through the partial index.
pub(crate) const FIND_DEDUP_ID: &str =
    "SELECT seq, published_at FROM messages WHERE dedup_id = ?1 ORDER BY seq DESC LIMIT 1";

/// Column order shared by every message SELECT; see `readers::read_message`.
macro_rules! message_columns {
    () => {
        "seq, published_at, subject, dedup_id, headers, payload"
    };
}

pub(crate) const SELECT_MESSAGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE seq = ?1"
);

/// The start of a filtered scan; `readers::FilterQuery` appends the subject conditions.
pub(crate) const SCAN_MESSAGES: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE seq > ?1 AND seq <= ?2"
);

/// Oldest messages first, with what retention needs to decide where to cut.
pub(crate) const OLDEST_MESSAGES: &str =
    "SELECT seq, published_at, size FROM messages WHERE seq >= ?1 ORDER BY seq LIMIT ?2";
pub(crate) const SIZE_BEFORE: &str =
    "SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE seq < ?1";
pub(crate) const DELETE_BEFORE: &str = "DELETE FROM messages WHERE seq < ?1";

// ---- consumers -----------------------------------------------------------------------------

macro_rules! consumer_columns {
    () => {
        "id, name, filters, ack_wait_ns, max_ack_pending, ack_floor"
    };
}

pub(crate) const SELECT_CONSUMER: &str = concat!(
    "SELECT ",
    consumer_columns!(),
    " FROM consumers WHERE name = ?1"
);
pub(crate) const SELECT_CONSUMER_ACKS: &str =
    "SELECT seq FROM consumer_acks WHERE consumer_id = ?1 AND seq > ?2 ORDER BY seq";
pub(crate) const INSERT_CONSUMER: &str = "
    INSERT INTO consumers (name, filters, ack_wait_ns, max_ack_pending, ack_floor, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
pub(crate) const UPDATE_CONSUMER: &str =
    "UPDATE consumers SET filters = ?2, ack_wait_ns = ?3, max_ack_pending = ?4 WHERE id = ?1";
pub(crate) const DELETE_CONSUMER_ACKS: &str = "DELETE FROM consumer_acks WHERE consumer_id = ?1";
pub(crate) const DELETE_CONSUMER: &str = "DELETE FROM consumers WHERE id = ?1";

/// Raises the floor; never lowers it (acks committed in another order must not undo it).
pub(crate) const RAISE_ACK_FLOOR: &str =
    "UPDATE consumers SET ack_floor = max(ack_floor, ?2) WHERE id = ?1";
pub(crate) const INSERT_ACK: &str =
    "INSERT OR IGNORE INTO consumer_acks (consumer_id, seq) VALUES (?1, ?2)";
pub(crate) const PRUNE_ACKS: &str =
    "DELETE FROM consumer_acks WHERE consumer_id = ?1 AND seq <= ?2";
