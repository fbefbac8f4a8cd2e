//! How to reach NATS and which stream to use.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use switchyard_bus::BusError;

use crate::names::{SubjectMap, validate_stream_name};

/// The stream name (and subject prefix) used when none is configured.
pub const DEFAULT_STREAM: &str = "switchyard";
/// How long a JetStream API request, a publish acknowledgement or an ack confirmation may
/// take before the bus reports [`BusError::Unavailable`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most replicas JetStream keeps of a stream.
pub const MAX_REPLICAS: usize = 5;

/// Credentials for the NATS server. Their `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    UserPassword { user: String, password: String },
    Token(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Token(_) => f.debug_tuple("Token").field(&"<redacted>").finish(),
        }
    }
}

/// Where the bus lives: NATS servers, credentials, the stream and its subject prefix.
///
/// Several platforms share one NATS account by giving each its own `stream` and
/// `subject_prefix`: bus subject `s` is stored as `<subject_prefix>.s` in stream `stream`.
#[derive(Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// Server URLs (`nats://host:4222`, `tls://host:4222`); the client picks one and fails
    /// over to the others. User information in a URL is honoured but never logged.
    pub servers: Vec<String>,
    pub credentials: Option<Credentials>,
    /// A PEM file of root certificates to trust for `tls://` servers instead of the system's.
    pub tls_root_certificates: Option<PathBuf>,
    /// The JetStream stream: 1 to 64 ASCII letters, digits, `-` and `_`.
    pub stream: String,
    /// The subject prefix: subject tokens without wildcards, not starting with `$`.
    pub subject_prefix: String,
    /// How many servers keep each message (1 to 5; more than 1 needs a JetStream cluster).
    pub replicas: usize,
    /// See [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// See [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// The connection name the server shows (`nats server report connections`).
    pub connection_name: String,
}

impl JetStreamConfig {
    /// A configuration for one server URL and a stream whose subject prefix is its name.
    pub fn new(server: impl Into<String>, stream: impl Into<String>) -> Self {
        let stream = stream.into();
        JetStreamConfig {
            servers: vec![server.into()],
            credentials: None,
            tls_root_certificates: None,
            subject_prefix: stream.clone(),
            stream,
            replicas: 1,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connection_name: "switchyard-bus".to_owned(),
        }
    }

    pub fn with_subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks every setting and reports every problem at once.
    pub fn validate(&self) -> Result<(), BusError> {
        let mut problems = Vec::new();
        if self.servers.is_empty() {
            problems.push("it names no NATS server".to_owned());
        }
        for server in &self.servers {
            if let Err(e) = async_nats::ServerAddr::from_str(server) {
                problems.push(format!("server URL `{}`: {e}", redact_url(server)));
            }
        }
        if let Err(e) = validate_stream_name(&self.stream) {
            problems.push(e.to_string());
        }
        if let Err(e) = SubjectMap::new(&self.subject_prefix) {
            problems.push(e.to_string());
        }
        if self.replicas == 0 || self.replicas > MAX_REPLICAS {
            problems.push(format!(
                "replicas is {}; it must be between 1 and {MAX_REPLICAS}",
                self.replicas
            ));
        }
        if self.timeout.is_zero() {
            problems.push("timeout must be longer than zero".to_owned());
        }
        if self.connect_timeout.is_zero() {
            problems.push("connect_timeout must be longer than zero".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BusError::invalid(
                "JetStream configuration",
                problems.join("; "),
            ))
        }
    }

    /// The server URLs with any password or token in them replaced, for messages and logs.
    pub fn redacted_servers(&self) -> String {
        self.servers
            .iter()
            .map(|s| redact_url(s))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Debug for JetStreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamConfig")
            .field("servers", &self.redacted_servers())
            .field("credentials", &self.credentials)
            .field("tls_root_certificates", &self.tls_root_certificates)
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("replicas", &self.replicas)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("connection_name", &self.connection_name)
            .finish()
    }
}

/// A server URL with the user information (`user:password@`, `token@`) replaced.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let host = &authority[at + 1..];
    match scheme {
        Some(scheme) => format!("{scheme}://<redacted>@{host}{tail}"),
        None => format!("<redacted>@{host}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = JetStreamConfig::new("nats://127.0.0.1:4222", DEFAULT_STREAM);
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.subject_prefix, "switchyard");
        assert_eq!(config.replicas, 1);
        let prefixed = JetStreamConfig::new("127.0.0.1", "PLATFORM_A").with_subject_prefix("a.bus");
        assert_eq!(prefixed.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut config = JetStreamConfig::new("http://x", "bad.name")
            .with_subject_prefix("$SYS")
            .with_replicas(7)
            .with_timeout(Duration::ZERO);
        config.servers.push("nats://[::1".to_owned());
        let err = config.validate().unwrap_err().to_string();
        for want in [
            "invalid JetStream configuration: ",
            "server URL `http://x`",
            "stream name `bad.name`",
            "NATS reserves subjects starting with `$`",
            "replicas is 7",
            "timeout must be longer than zero",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
        let none = JetStreamConfig {
            servers: vec![],
            ..JetStreamConfig::new("x", "s")
        };
        assert!(
            none.validate()
                .unwrap_err()
                .to_string()
                .contains("names no NATS server")
        );
    }

    #[test]
    fn secrets_never_show() {
        let config = JetStreamConfig::new("nats://alice:s3cret@nats.example:4222", "s")
            .with_credentials(Credentials::UserPassword {
                user: "bob".into(),
                password: "hunter2".into(),
            });
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("nats://<redacted>@nats.example:4222"),
            "{shown}"
        );
        assert!(
            shown.contains("bob"),
            "the user name is not secret: {shown}"
        );
        let token = format!("{:?}", Credentials::Token("t0k3n".into()));
        assert!(!token.contains("t0k3n"), "{token}");
    }

    #[test]
    fn urls_are_redacted() {
        for (url, want) in [
            ("nats://a:b@h:4222", "nats://<redacted>@h:4222"),
            ("tls://tok@h", "tls://<redacted>@h"),
            ("a:b@h:4222", "<redacted>@h:4222"),
            ("nats://h:4222", "nats://h:4222"),
            ("nats://h:4222/path@x", "nats://h:4222/path@x"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
