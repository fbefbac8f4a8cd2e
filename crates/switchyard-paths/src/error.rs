//! The crate's one error type: every way a path, a write or an operation can be refused.
//!
//! Segment numbers in messages and in the `segment` fields are 1-based positions in the dot-separated path.

use thiserror::Error;

/// Why a path could not be used, or a value could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path is the empty string (SJSON refuses it too: "path cannot be empty").
    #[error(
        "the path is empty: name the key to write, such as `spec.arguments.parameters.0.value`"
    )]
    EmptyPath,

    /// A segment between two dots is empty (`a..b`, a leading or trailing `.`, or a lone `:`).
    #[error(
        "path `{path}`: segment {segment} is empty; remove the extra `.` (write `\\.` for a literal dot in a key)"
    )]
    EmptySegment {
        /// The whole path.
        path: String,
        /// 1-based position of the empty segment.
        segment: usize,
    },

    /// The path ends with a `\` that escapes nothing.
    #[error("path `{path}` ends with a lone `\\`; escape a character (`\\.`) or remove it")]
    DanglingEscape {
        /// The whole path.
        path: String,
    },

    /// A segment holds an unescaped GJSON-only character (`|`, `#`, `@`, `*`, `?`). SJSON treats such a path as a
    /// query that only replaces values it already finds; Switchyard writes plain keys only.
    #[error(
        "path `{path}`: segment {segment} (`{key}`) contains `{character}`, which only GJSON queries use; \
         a write path takes plain keys and indexes: escape it as `\\{character}` if it is part of the key"
    )]
    QueryCharacter {
        /// The whole path.
        path: String,
        /// 1-based position of the segment.
        segment: usize,
        /// The segment's text as written.
        key: String,
        /// The offending character.
        character: char,
    },

    /// A non-numeric key was used where the document holds an array (SJSON: "cannot set array element for
    /// non-numeric key").
    #[error(
        "path `{path}`: segment {segment} (`{key}`) is not an array index, but the value there is an array; \
         use a number, or -1 to append"
    )]
    NotAnIndex {
        /// The whole path.
        path: String,
        /// 1-based position of the segment.
        segment: usize,
        /// The key, unescaped.
        key: String,
    },

    /// Writing this index would pad an array with more nulls than allowed.
    #[error(
        "path `{path}`: segment {segment} (`{key}`) would pad an array up to index {key}, past the limit of {max}; \
         use an existing index or -1 to append"
    )]
    IndexTooLarge {
        /// The whole path.
        path: String,
        /// 1-based position of the segment.
        segment: usize,
        /// The index as written.
        key: String,
        /// The largest index a write may pad up to.
        max: usize,
    },

    /// A segment is the one key the JSON library reserves for itself ([`crate::RESERVED_KEY`]): a document
    /// holding it is written out but cannot be read back.
    #[error(
        "path `{path}`: segment {segment} is `{key}`, a key reserved by the JSON library: a document holding it \
         cannot be read back; use another key"
    )]
    ReservedKey {
        /// The whole path.
        path: String,
        /// 1-based position of the segment.
        segment: usize,
        /// The key, unescaped.
        key: String,
    },

    /// The arrays one write creates below a missing key would hold more padding `null`s, together, than allowed.
    #[error(
        "path `{path}`: the arrays this write creates, up to segment {segment} (`{key}`), would be padded with more \
         than {max} nulls in all; use smaller indexes, or -1 to append"
    )]
    PaddingTooLarge {
        /// The whole path.
        path: String,
        /// 1-based position of the segment where the padding passes the limit.
        segment: usize,
        /// The index as written.
        key: String,
        /// The most padding `null`s the arrays created by one write may hold.
        max: usize,
    },

    /// The path has more parts than [`crate::MAX_PATH_PARTS`] (GJSON walks paths recursively, one stack frame or
    /// more per part, so an unbounded path could exhaust the stack).
    #[error(
        "the path has {parts} parts (separated by `.` or `|`, or nested in `()`, `[]`, `{{}}`), \
         more than the limit of {max}"
    )]
    PathTooLong {
        /// How many parts were counted.
        parts: usize,
        /// The limit.
        max: usize,
    },

    /// A trigger parameter `operation` that Argo Events does not know.
    #[error(
        "unsupported trigger parameter operation `{operation}`: expected `overwrite`, `append` or `prepend`"
    )]
    UnsupportedOperation {
        /// The operation as written.
        operation: String,
    },

    /// The text a read found is not valid JSON (the document given to [`crate::get`] was not valid JSON).
    #[error(
        "the value found is not valid JSON ({reason}): validate the document before reading from it"
    )]
    InvalidJson {
        /// What the JSON parser reported.
        reason: String,
    },
}
