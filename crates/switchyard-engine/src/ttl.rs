//! `ttlStrategy`: when a finished run is deleted, as Argo's TTL controller decides it.
//!
//! A run that ended `Failed` uses `secondsAfterFailure`, one that `Succeeded` uses
//! `secondsAfterSuccess`; when that one is not set (and for `Error`, which is neither),
//! `secondsAfterCompletion` applies. The time counts from `status.finishedAt`. A negative
//! number of seconds deletes the run as soon as it is seen finished.

use chrono::{DateTime, Duration, Utc};
use switchyard_model::workflow::WorkflowSpec;

use crate::state::{RunStatus, WorkflowPhase};

/// When the finished run is to be deleted, if its spec asks for that.
pub fn expires_at(spec: &WorkflowSpec, status: &RunStatus) -> Option<DateTime<Utc>> {
    let ttl = spec.ttl_strategy.as_ref()?;
    let finished_at = status.finished_at?;
    let seconds = match status.phase {
        WorkflowPhase::Failed if ttl.seconds_after_failure.is_some() => ttl.seconds_after_failure,
        WorkflowPhase::Succeeded if ttl.seconds_after_success.is_some() => {
            ttl.seconds_after_success
        }
        phase if phase.is_finished() => ttl.seconds_after_completion,
        _ => None,
    }?;
    Some(finished_at + Duration::seconds(i64::from(seconds.max(0))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::workflow::TtlStrategy;

    fn spec(ttl: TtlStrategy) -> WorkflowSpec {
        WorkflowSpec {
            ttl_strategy: Some(ttl),
            ..Default::default()
        }
    }

    fn status(phase: WorkflowPhase, finished: Option<DateTime<Utc>>) -> RunStatus {
        RunStatus {
            phase,
            started_at: None,
            finished_at: finished,
            message: None,
            progress: "0/0".to_owned(),
            outputs: Default::default(),
            nodes: Default::default(),
            memo: Default::default(),
        }
    }

    #[test]
    fn each_phase_takes_its_own_seconds_then_the_completion_ones() {
        let at = Utc::now();
        let all = spec(TtlStrategy {
            seconds_after_completion: Some(60),
            seconds_after_success: Some(30),
            seconds_after_failure: Some(600),
        });
        let cases = [
            (WorkflowPhase::Succeeded, 30),
            (WorkflowPhase::Failed, 600),
            // Error is neither a failure nor a success to Argo's TTL controller.
            (WorkflowPhase::Error, 60),
        ];
        for (phase, seconds) in cases {
            assert_eq!(
                expires_at(&all, &status(phase, Some(at))),
                Some(at + Duration::seconds(seconds)),
                "{phase:?}"
            );
        }
        let completion_only = spec(TtlStrategy {
            seconds_after_completion: Some(10),
            ..Default::default()
        });
        for phase in [
            WorkflowPhase::Succeeded,
            WorkflowPhase::Failed,
            WorkflowPhase::Error,
        ] {
            assert_eq!(
                expires_at(&completion_only, &status(phase, Some(at))),
                Some(at + Duration::seconds(10)),
                "{phase:?}"
            );
        }
        let failure_only = spec(TtlStrategy {
            seconds_after_failure: Some(5),
            ..Default::default()
        });
        assert_eq!(
            expires_at(&failure_only, &status(WorkflowPhase::Succeeded, Some(at))),
            None
        );
        // A negative number of seconds: at once.
        let negative = spec(TtlStrategy {
            seconds_after_completion: Some(-5),
            ..Default::default()
        });
        assert_eq!(
            expires_at(&negative, &status(WorkflowPhase::Succeeded, Some(at))),
            Some(at)
        );
    }

    #[test]
    fn unfinished_runs_and_runs_without_a_ttl_never_expire() {
        let at = Utc::now();
        let ttl = spec(TtlStrategy {
            seconds_after_completion: Some(1),
            ..Default::default()
        });
        assert_eq!(
            expires_at(&ttl, &status(WorkflowPhase::Running, None)),
            None
        );
        assert_eq!(
            expires_at(&ttl, &status(WorkflowPhase::Running, Some(at))),
            None
        );
        assert_eq!(
            expires_at(
                &WorkflowSpec::default(),
                &status(WorkflowPhase::Succeeded, Some(at))
            ),
            None
        );
    }
}
