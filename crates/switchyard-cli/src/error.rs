//! The CLI's one error type, and the exit code each kind of failure maps to.

use std::process::ExitCode;

use switchyard_api::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The input or request was rejected; the message says why (exit 1).
    #[error("{0}")]
    Rejected(String),
    /// Problems were already printed, one per line; this is the summary (exit 1).
    #[error("{0}")]
    Reported(String),
    /// A run that was waited on ended Failed or Error; the message names it (exit 1).
    #[error("{0}")]
    RunFailed(String),
    /// The server answered with an error body.
    #[error("{}", body.message)]
    Server { status: u16, body: ErrorBody },
    /// No answer from the server at all (exit 3).
    #[error(
        "cannot reach the Switchyard server at {server}: {reason}; start it with `switchyard up`"
    )]
    Unreachable { server: String, reason: String },
    /// Something failed on our side or the server's (exit 3).
    #[error("{0}")]
    Internal(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => 2,
            CliError::Rejected(_) | CliError::Reported(_) | CliError::RunFailed(_) => 1,
            CliError::Server { status, .. } if *status < 500 => 1,
            CliError::Server { .. } | CliError::Unreachable { .. } | CliError::Internal(_) => 3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_api::ErrorCode;

    #[test]
    fn exit_codes_separate_user_usage_and_server_failures() {
        let server = |status| CliError::Server {
            status,
            body: ErrorBody::new(ErrorCode::Internal, "x"),
        };
        let cases = [
            (CliError::Usage("u".into()), 2),
            (CliError::Rejected("r".into()), 1),
            (CliError::Reported("r".into()), 1),
            (CliError::RunFailed("workflow x ended Failed".into()), 1),
            (server(404), 1),
            (server(422), 1),
            (server(500), 3),
            (server(503), 3),
            (
                CliError::Unreachable {
                    server: "s".into(),
                    reason: "r".into(),
                },
                3,
            ),
            (CliError::Internal("i".into()), 3),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), ExitCode::from(code), "{err:?}");
        }
    }
}
