//! Steps through a durable queue: in distributed mode the controller does not run steps
//! itself. It enqueues them on the event bus ([`QueueRunner`], a
//! [`StepRunner`](switchyard_engine::StepRunner)), and any number of worker processes
//! ([`Worker`]) pull them, run them with their own local runner and record the results in
//! the shared store.
//!
//! # The protocol
//!
//! Every process of the platform shares one [`EventBus`](switchyard_bus::EventBus) (NATS
//! JetStream), one [`Store`](switchyard_store::Store) (PostgreSQL) and one
//! [`SecretSealer`](switchyard_store::SecretSealer) key. Each process has an instance name,
//! unique in the platform and stable across its restarts.
//!
//! **Subjects** (outside `events.`, so sensors never see them):
//! - `steps.run`: one message per step request: the [`StepSpec`](switchyard_engine::StepSpec)
//!   as JSON, SEALED with the `SecretSealer` (the spec's env holds resolved Secret values,
//!   which must never sit in the bus in plain text); dedup id `steps.run/<step key>`. All
//!   workers share the durable consumer `workers` on it (from the oldest request), so each
//!   request goes to one worker at a time.
//! - `steps.done`: `{"step": id}` once a step's result is recorded; dedup id
//!   `steps.done/<step key>`. Each controller instance follows it with its own durable
//!   consumer `steps-done-<instance>`, from new messages, acking everything.
//! - `steps.stop`: `{"step", "reason", "graceMs"}`; dedup id
//!   `steps.stop/<reason>/<step key>`. Each worker follows it with its own durable consumer
//!   `steps-stop-<instance>`, from new messages, acking everything.
//!
//! The step key is the step id, or `sha256-<hex of the id>` when the id is longer than 160
//! bytes or has control characters (so names stay within the bus's and the store's limits).
//! Instance names that a consumer name cannot hold are cleaned up and suffixed with a hash.
//!
//! **Records** (the store's meta table, JSON):
//! - `step/<key>/result`: how the step ended, written once, by the worker that settled it:
//!   the [`StepResult`](switchyard_engine::StepResult) and the step's whole log, or the local
//!   runner's start error, or a lost result (no exit code, a message saying why). The
//!   controller's `cleanup` replaces it by a small tombstone ("cleaned up").
//! - `step/<key>/claim`: `{worker, token, handle}`: which worker took the step, and, once its
//!   local runner started it, the local handle (so the same worker re-attaches after a
//!   restart).
//! - `step/<key>/stop`: `{reason, graceMs, requestedBy}`: the controller asked for a stop.
//! - `step/<key>/live`: `{lines}`: the first lines of a running step's log, rewritten by its
//!   worker every second while they change (up to 256 KiB of text), removed once the result
//!   is recorded.
//!
//! **Lease.** A worker handles a step only while it holds the store lease `step/<key>`
//! (holder = its instance, time to live `lease_ttl`, renewed every third of it while the step
//! runs). Before it starts the step and before it records the result it renews the lease and
//! checks the token is still the one it took: a larger token means another worker held the
//! lease in between, and it backs off. (The store has no compare-and-set on records, so a
//! worker that stalls longer than the lease between that check and its write can still write
//! after another worker took over; it never replaces an existing result record.)
//!
//! **Controller ([`QueueRunner`]).**
//! - `start`: a recorded result (or tombstone) returns a handle at once; otherwise the sealed
//!   request is published and `start` returns once the bus holds it durably. The handle has
//!   pid 0 and a `dir` of `queued:steps.run/<key>` ([`QUEUED_DIR_PREFIX`]).
//! - `wait`: reads the result record when woken by `steps.done`, and every `poll_interval`
//!   (2 s) anyway, so a missed notification only delays.
//! - `stop`: writes the stop marker, then publishes on `steps.stop`. `StopReason::Shutdown`
//!   does nothing (the controller shutting down does not stop the workers' steps).
//! - `reattach`: a result is `Finished` (`Lost` for a lost result); no result is `Running`.
//! - `logs`: the recorded log from `from`; while the step runs, what its worker shared so far
//!   (the live log: the same line numbers, so a follower goes on with the result's log).
//! - `cleanup`: tombstone on the result, claim, stop marker and live log removed.
//!
//! **Worker ([`Worker`]),** for each request pulled (at most `parallel` at once):
//! 1. Unseal and decode it. A request it cannot read (another key, a newer format) is offered
//!    again after a minute (a correctly configured worker may take it) and logged as an error.
//! 2. A result recorded: publish `steps.done`, ack.
//! 3. Take the lease. Held by another worker: nak with a delay until that lease could have
//!    expired (at least `ack_wait`): that worker runs it.
//! 4. Under the lease, in order: a result recorded meanwhile → as in 2. A claim by THIS
//!    instance (it was restarted): re-attach with the local runner (`Running` → wait,
//!    `Finished` → record, `Lost` → record a lost result); a claim without a handle → start
//!    it again (the local runner's `start` gives back a step it already started). A claim by
//!    ANOTHER instance whose lease expired: that worker died or was cut off; nobody knows how
//!    the step ended, so record a lost result naming that worker (no exit code; the engine's
//!    retry policy decides, as for a lost pod). No claim: a stop marker → record a stopped
//!    result without running it; otherwise write the claim, check the lease, start the step
//!    locally, write the claim with the local handle, carry out a stop that came meanwhile,
//!    wait.
//! 5. Record the result with the log (`local.logs(handle, 0)`), publish `steps.done`,
//!    `local.cleanup`, release the lease, ack.
//!
//! A `steps.stop` message for a step the worker handles stops the local step with the
//! message's reason and grace (or, before the local handle is known, right after the start).
//!
//! # Failures
//!
//! - **Bus or store unavailable** (retryable errors): every call is retried with backoff
//!   (100 ms doubling to 5 s): in a worker until it succeeds or the worker stops; in the
//!   controller's `start`, `stop` and `cleanup` for `retry_for` (5 min), then `start` fails
//!   with an internal runner error and `stop`/`cleanup` log an error. `wait` polls on.
//! - **A worker crashes** while running a step: its lease expires; the request, never acked,
//!   comes again after `ack_wait`; the worker that gets it takes the expired lease, finds the
//!   dead worker's claim and records a lost result. The step did not run twice.
//! - **A worker shuts down** ([`WorkerHandle::shutdown`]): it stops pulling; running steps go
//!   on (they are local processes under their own supervisor), their leases are extended by
//!   `restart_grace`, their requests stay unacked. The same instance, restarted within that
//!   time, gets the requests again and re-attaches; otherwise another worker records them as
//!   lost once the leases expire.
//! - **A worker loses its lease** (it could not renew in time and another worker took the
//!   step over): it stops the local step (`Terminated`, `stop_grace`) and records nothing.
//! - **The controller restarts**: handles carry only the step id; `reattach` reads the store.
//!   Its `steps.done` consumer is durable, so notifications published while it was down are
//!   delivered after the restart (and `wait` polls anyway).
//! - **A request comes again** (redelivery, a repeated `start` beyond the bus's dedup window):
//!   the result record, the lease and the claim make it a no-op: a finished step is never run
//!   twice. After `cleanup` the tombstone plays that role, which is why `cleanup` keeps it
//!   (one small record per step; the store's lease row of the step stays too, the Store port
//!   has no call to remove leases).
//! - **A step request too large for the bus**: `start` fails with a start error naming the
//!   size and the limit, so the node fails with that message.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod protocol;
mod queue;
mod retry;
mod worker;

pub use error::WorkerError;
pub use protocol::{DONE_SUBJECT, QUEUED_DIR_PREFIX, RUN_SUBJECT, STOP_SUBJECT, WORKERS_CONSUMER};
pub use queue::{
    DEFAULT_POLL_INTERVAL, DEFAULT_RETRY_FOR, DONE_CONSUMER_PREFIX, QueueConfig, QueueRunner,
};
pub use worker::{
    DEFAULT_ACK_WAIT, DEFAULT_LEASE_TTL, DEFAULT_PARALLEL, DEFAULT_RESTART_GRACE,
    DEFAULT_STOP_GRACE, STOP_CONSUMER_PREFIX, Worker, WorkerConfig, WorkerHandle,
};
