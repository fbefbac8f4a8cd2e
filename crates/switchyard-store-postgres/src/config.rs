//! Where the store lives (a server URL and a schema in its database) and the limits of its
//! pool, checked and turned into a connection configuration before anything connects.

use std::fmt;
use std::time::Duration;
use switchyard_store::StoreError;
use tokio_postgres::config::{Host, SslMode};

/// Longest schema name PostgreSQL keeps (`NAMEDATALEN - 1`); longer names would be truncated
/// silently, so two long names could meet in one schema.
pub const MAX_SCHEMA_LEN: usize = 63;

/// How much longer than a call's deadline the server lets one of its statements run.
const STATEMENT_GRACE: Duration = Duration::from_secs(5);

/// How to reach the store: a server, and a schema of its own in the server's database.
///
/// Several platforms (or tests) can share one database, each in its own schema. The URL is a
/// libpq-style connection string, either `postgres://user:password@host:port/db?opt=value`
/// or `host=... user=... dbname=...`; TLS is not built in, so `sslmode=require` is refused.
#[derive(Clone)]
pub struct PostgresConfig {
    pub url: String,
    /// The schema holding every table of this store: lower-case ASCII letters, digits and
    /// `_`, starting with a letter or `_`, at most 63 bytes, not starting with `pg_`. It is
    /// created when absent.
    pub schema: String,
    /// Most connections the pool opens (at least 1).
    pub max_connections: usize,
    /// How long opening one connection may take, unless the URL sets `connect_timeout`.
    pub connect_timeout: Duration,
    /// How long one store call may take in all, waiting for a connection included. A call
    /// that runs out is [`StoreError::Unavailable`] and its connection is closed rather than
    /// reused, so a server that stopped answering costs each caller this long at most. The
    /// server ends any statement of the store that runs 5 s longer (`statement_timeout`).
    pub call_timeout: Duration,
    /// How long a transaction of this store may sit idle before the server ends its session.
    /// Every write transaction holds the resource version lock, so a process that stalls
    /// mid-transaction (paused, cut off) must not hold it forever; ours never idle for more
    /// than a few milliseconds.
    pub idle_in_transaction_timeout: Duration,
}

impl PostgresConfig {
    /// A configuration with the default limits: 8 connections, 5 s to connect, 30 s per
    /// call, 60 s idle in a transaction.
    pub fn new(url: impl Into<String>, schema: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            schema: schema.into(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            idle_in_transaction_timeout: Duration::from_secs(60),
        }
    }
}

/// Shows where the store lives, never the password.
impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = match self.url.parse::<tokio_postgres::Config>() {
            Ok(parsed) => describe(&parsed),
            Err(_) => "<a URL that does not parse>".to_owned(),
        };
        f.debug_struct("PostgresConfig")
            .field("server", &server)
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .finish()
    }
}

/// `user@host:port/db`, for messages (no password).
pub(crate) fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            // One port for all hosts, or one per host; 5432 when none is given.
            let port = config
                .get_ports()
                .get(i)
                .or_else(|| config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_owned()
    } else {
        hosts.join(",")
    };
    let user = config.get_user().unwrap_or("<default user>");
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("<default database>");
    format!("{user}@{hosts}/{db}")
}

/// Checks a schema name; see [`PostgresConfig::schema`].
pub(crate) fn validate_schema(schema: &str) -> Result<(), StoreError> {
    let invalid = |reason: String| Err(StoreError::invalid(format!("schema `{schema}`"), reason));
    if schema.is_empty() {
        return invalid("a schema name must not be empty".to_owned());
    }
    if schema.len() > MAX_SCHEMA_LEN {
        return invalid(format!(
            "a schema name is at most {MAX_SCHEMA_LEN} bytes; this one is {}",
            schema.len()
        ));
    }
    if schema.starts_with("pg_") {
        return invalid("names starting with `pg_` are reserved by PostgreSQL".to_owned());
    }
    let first_ok = schema
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !first_ok || !rest_ok {
        return invalid(
            "use lower-case ASCII letters, digits and `_`, starting with a letter or `_`"
                .to_owned(),
        );
    }
    Ok(())
}

/// The connection configuration every pooled connection uses: the URL's, with the schema as
/// the search path, the idle-in-transaction limit, an application name and a connect
/// timeout unless the URL gives them.
pub(crate) fn connection_config(
    config: &PostgresConfig,
) -> Result<tokio_postgres::Config, StoreError> {
    validate_schema(&config.schema)?;
    if config.max_connections == 0 {
        return Err(StoreError::invalid(
            "the PostgreSQL store configuration",
            "max_connections must be at least 1",
        ));
    }
    let mut pg: tokio_postgres::Config =
        config.url.parse().map_err(|e: tokio_postgres::Error| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            StoreError::invalid("the PostgreSQL URL", format!("{e}{cause}"))
        })?;
    if pg.get_ssl_mode() == SslMode::Require {
        return Err(StoreError::invalid(
            format!("the PostgreSQL URL for {}", describe(&pg)),
            "sslmode=require asks for TLS, which this build does not include; connect over a \
             trusted network or a local socket with sslmode=disable or prefer",
        ));
    }
    // Server options are one string of `-c name=value` words; ours go after the URL's own, so
    // the search path is always the configured schema. The schema name needs no quoting: it
    // was checked to be a plain lower-case identifier.
    //
    // The statement timeout is the server's side of the call deadline: a statement the
    // caller has given up on (a lock wait behind a stalled process, say) is ended a little
    // after the call's deadline rather than running on, holding locks, until it next writes
    // to the closed connection.
    let idle_ms = config.idle_in_transaction_timeout.as_millis().max(1);
    let statement_ms = (config.call_timeout + STATEMENT_GRACE).as_millis();
    let ours = format!(
        "-c search_path={} -c idle_in_transaction_session_timeout={idle_ms} -c statement_timeout={statement_ms}",
        config.schema
    );
    let options = match pg.get_options() {
        Some(theirs) if !theirs.trim().is_empty() => format!("{theirs} {ours}"),
        _ => ours,
    };
    pg.options(options);
    if pg.get_application_name().is_none() {
        pg.application_name("switchyard");
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(config.connect_timeout);
    }
    Ok(pg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["switchyard", "_x", "team_a_2", &"a".repeat(63)] {
            assert_eq!(validate_schema(good), Ok(()), "{good}");
        }
        for (bad, reason) in [
            ("", "a schema name must not be empty"),
            ("Upper", "use lower-case ASCII letters"),
            ("2fast", "use lower-case ASCII letters"),
            ("a-b", "use lower-case ASCII letters"),
            ("a b", "use lower-case ASCII letters"),
            ("x\"; drop", "use lower-case ASCII letters"),
            ("pg_temp", "reserved by PostgreSQL"),
            (&"a".repeat(64), "at most 63 bytes; this one is 64"),
        ] {
            let err = validate_schema(bad).unwrap_err();
            assert!(
                matches!(&err, StoreError::Invalid { reason: r, .. } if r.contains(reason)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn connection_config_adds_schema_and_limits() {
        let mut config = PostgresConfig::new(
            "postgres://app:hunter2@db.example:6543/platform?options=-c%20work_mem%3D8MB",
            "team_a",
        );
        config.idle_in_transaction_timeout = Duration::from_secs(7);
        let pg = connection_config(&config).unwrap();
        assert_eq!(
            pg.get_options(),
            Some(
                "-c work_mem=8MB -c search_path=team_a -c idle_in_transaction_session_timeout=7000 -c statement_timeout=35000"
            )
        );
        assert_eq!(pg.get_application_name(), Some("switchyard"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(describe(&pg), "app@db.example:6543/platform");

        let pg = connection_config(&PostgresConfig::new(
            "host=/run/postgresql user=u application_name=mine connect_timeout=2",
            "s",
        ))
        .unwrap();
        assert_eq!(pg.get_application_name(), Some("mine"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(describe(&pg), "u@/run/postgresql:5432/u");
    }

    #[test]
    fn bad_configurations_are_invalid_and_keep_the_password_out() {
        for (url, schema, want) in [
            (
                "postgres://u:hunter2@h/db?sslmode=require",
                "s",
                "invalid request for the PostgreSQL URL for u@h:5432/db: sslmode=require asks for TLS",
            ),
            (
                "postgres://u:hunter2@h:notaport/db",
                "s",
                "invalid request for the PostgreSQL URL: invalid connection string",
            ),
            (
                "postgres://u:hunter2@h/db",
                "Bad",
                "invalid request for schema `Bad`",
            ),
        ] {
            let err = connection_config(&PostgresConfig::new(url, schema)).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(want), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!err.is_retryable());
        }
        let mut config = PostgresConfig::new("postgres://h/db", "s");
        config.max_connections = 0;
        assert!(matches!(
            connection_config(&config),
            Err(StoreError::Invalid { .. })
        ));
        let shown = format!(
            "{:?}",
            PostgresConfig::new("postgres://u:hunter2@h/db", "s")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("u@h:5432/db"), "{shown}");
    }
}
