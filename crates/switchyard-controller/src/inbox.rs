//! Runs driven by another process: the [`RunInbox`] port, and the commands and answers that
//! travel through it.
//!
//! In distributed mode several Switchyard processes share one store, and one of them (the
//! holder of the controller lease) drives every run. The others still accept submits and
//! commands: a submit is checked and stored here, then handed over with [`RunInbox::adopt`];
//! a command is sent with [`RunInbox::command`] and answered by the driving process once its
//! effect is durable there. The port is owned here; the server implements it over the bus.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchyard_engine::{Command, EngineError};
use switchyard_store::{ObjectKey, StoreError};

use crate::error::ControllerError;

/// Where a controller that does not drive runs sends them.
#[async_trait]
pub trait RunInbox: Send + Sync + 'static {
    /// A run was stored (Pending) by this process: the driving process takes it over.
    /// Returns once the hand-over is durable.
    async fn adopt(&self, key: &ObjectKey) -> Result<(), ControllerError>;
    /// Applies a command in the driving process; returns once its effect is durable there,
    /// with the driving process's answer.
    async fn command(&self, key: &ObjectKey, cmd: UserCommand) -> Result<(), ControllerError>;
    /// A run was deleted by this process: the driving process stops its steps.
    async fn deleted(&self, key: &ObjectKey) -> Result<(), ControllerError>;
}

/// The commands people give a run (the engine's other commands come from its own shell and
/// never travel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "camelCase")]
pub enum UserCommand {
    Resume {
        node_filter: Option<String>,
        by: String,
        message: Option<String>,
    },
    Suspend,
    Stop {
        by: String,
        message: Option<String>,
    },
    Terminate {
        by: String,
        message: Option<String>,
    },
    RetryFailed {
        by: String,
        restart_successful: bool,
        node_filter: Option<String>,
    },
    SetOutputs {
        node_filter: String,
        parameters: Vec<(String, String)>,
        message: Option<String>,
    },
}

impl UserCommand {
    /// The user command a [`Command`] is, if it is one.
    pub fn from_command(cmd: &Command) -> Option<UserCommand> {
        Some(match cmd.clone() {
            Command::Resume {
                node_filter,
                by,
                message,
            } => UserCommand::Resume {
                node_filter,
                by,
                message,
            },
            Command::Suspend => UserCommand::Suspend,
            Command::Stop { by, message } => UserCommand::Stop { by, message },
            Command::Terminate { by, message } => UserCommand::Terminate { by, message },
            Command::RetryFailed {
                by,
                restart_successful,
                node_filter,
            } => UserCommand::RetryFailed {
                by,
                restart_successful,
                node_filter,
            },
            Command::SetOutputs {
                node_filter,
                parameters,
                message,
            } => UserCommand::SetOutputs {
                node_filter,
                parameters,
                message,
            },
            Command::Submit
            | Command::StepStarted { .. }
            | Command::StepExited { .. }
            | Command::StartFailed { .. }
            | Command::Recovered { .. }
            | Command::Tick => return None,
        })
    }

    pub fn into_command(self) -> Command {
        match self {
            UserCommand::Resume {
                node_filter,
                by,
                message,
            } => Command::Resume {
                node_filter,
                by,
                message,
            },
            UserCommand::Suspend => Command::Suspend,
            UserCommand::Stop { by, message } => Command::Stop { by, message },
            UserCommand::Terminate { by, message } => Command::Terminate { by, message },
            UserCommand::RetryFailed {
                by,
                restart_successful,
                node_filter,
            } => Command::RetryFailed {
                by,
                restart_successful,
                node_filter,
            },
            UserCommand::SetOutputs {
                node_filter,
                parameters,
                message,
            } => Command::SetOutputs {
                node_filter,
                parameters,
                message,
            },
        }
    }
}

/// What kind of failure an answer from another process was, so the API answers it with the
/// same status the driving process would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureClass {
    /// The run or node does not exist (404).
    NotFound,
    /// The run is in a phase where the command does not apply (409).
    Conflict,
    /// The command is malformed for this run (400).
    BadRequest,
    /// Retry later (503).
    Unavailable,
    /// A failure of the driving process (500).
    Internal,
}

/// An answer to a forwarded command, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// `None` when the command took effect.
    pub failure: Option<(FailureClass, String)>,
}

impl Answer {
    pub fn of(result: &Result<(), ControllerError>) -> Answer {
        Answer {
            failure: result.as_ref().err().map(|e| (e.class(), e.to_string())),
        }
    }

    pub fn into_result(self) -> Result<(), ControllerError> {
        match self.failure {
            None => Ok(()),
            Some((class, message)) => Err(ControllerError::Forwarded { class, message }),
        }
    }
}

impl ControllerError {
    /// How an API answers this failure.
    pub fn class(&self) -> FailureClass {
        match self {
            ControllerError::Invalid { .. } => FailureClass::BadRequest,
            ControllerError::NotFound { .. } | ControllerError::NoSuchNode { .. } => {
                FailureClass::NotFound
            }
            ControllerError::Engine(e) => match e {
                EngineError::WrongPhase { .. } | EngineError::NothingToResume { .. } => {
                    FailureClass::Conflict
                }
                EngineError::BadFilter { .. }
                | EngineError::UnknownOutput { .. }
                | EngineError::UnknownNode { .. }
                | EngineError::NotAStep { .. } => FailureClass::BadRequest,
                EngineError::Invalid { .. } | EngineError::Internal { .. } => {
                    FailureClass::Internal
                }
            },
            ControllerError::Store(StoreError::NotFound { .. }) => FailureClass::NotFound,
            ControllerError::Store(e) if e.is_retryable() => FailureClass::Unavailable,
            ControllerError::Store(StoreError::Conflict { .. }) => FailureClass::Conflict,
            ControllerError::Store(_) | ControllerError::Corrupt(_) => FailureClass::Internal,
            ControllerError::ShuttingDown | ControllerError::Unavailable(_) => {
                FailureClass::Unavailable
            }
            ControllerError::Forwarded { class, .. } => *class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_commands_travel_and_come_back_the_same() {
        let commands = [
            Command::Resume {
                node_filter: Some("name=approve".into()),
                by: "ana".into(),
                message: Some("ok".into()),
            },
            Command::Suspend,
            Command::Stop {
                by: "bo".into(),
                message: None,
            },
            Command::Terminate {
                by: "bo".into(),
                message: Some("x".into()),
            },
            Command::RetryFailed {
                by: "cy".into(),
                restart_successful: true,
                node_filter: None,
            },
            Command::SetOutputs {
                node_filter: "approve".into(),
                parameters: vec![("a".into(), "1".into())],
                message: None,
            },
        ];
        for cmd in commands {
            let user = UserCommand::from_command(&cmd).unwrap();
            let wire = serde_json::to_string(&user).unwrap();
            let back: UserCommand = serde_json::from_str(&wire).unwrap();
            assert_eq!(back.into_command(), cmd);
        }
        assert_eq!(UserCommand::from_command(&Command::Tick), None);
        assert_eq!(UserCommand::from_command(&Command::Submit), None);
    }

    #[test]
    fn answers_keep_their_class() {
        let failed: Result<(), ControllerError> = Err(ControllerError::NotFound {
            namespace: "ns".into(),
            name: "wf".into(),
        });
        let wire = serde_json::to_string(&Answer::of(&failed)).unwrap();
        let back: Answer = serde_json::from_str(&wire).unwrap();
        let err = back.into_result().unwrap_err();
        assert_eq!(err.class(), FailureClass::NotFound);
        assert_eq!(err.to_string(), "workflow ns/wf not found");
        let ok: Answer =
            serde_json::from_str(&serde_json::to_string(&Answer::of(&Ok(()))).unwrap()).unwrap();
        assert!(ok.into_result().is_ok());
    }
}
