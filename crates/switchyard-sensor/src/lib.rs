//! The rules of an Argo Events Sensor, pure: no I/O, no clock (callers pass `now`), no
//! randomness.
//!
//! An async shell feeds events from the bus, persists the state and carries out what the rules
//! return:
//!
//! 1. [`CompiledSensor::compile`] parses everything in a `Sensor` once (conditions, regular
//!    expressions, govaluate expressions, Lua scripts, jq programs, Go templates, cron
//!    schedules) and reports every [`Problem`] with its path.
//! 2. [`CompiledSensor::on_event`] takes an [`EventInput`] (a CloudEvent's context and data),
//!    runs each matching dependency's transform and filters, updates the [`SensorState`]
//!    (pending events per trigger), and returns an [`EventOutcome`]: a [`Verdict`] per
//!    dependency and the [`Firing`]s, each with a deterministic unique key.
//! 3. [`CompiledSensor::resolve`] turns a firing into a [`ResolvedTrigger`]: a Workflow to
//!    submit, a Kubernetes object, an HTTP request or a log line, with the trigger's
//!    parameters applied.
//! 4. [`CompiledSensor::next_reset`] / [`CompiledSensor::reset_due`] drive
//!    `conditionsReset.byTime`; [`CompiledSensor::reconcile`] purges pending events a changed
//!    spec invalidates.
//!
//! The semantics are Argo Events' (v1.9): `sensors/dependencies` (filters, transforms),
//! `sensors/triggers/params.go` (parameters), `sensors/listener.go` (conditions) and
//! `eventbus/jetstream/sensor` (pending state, resets, purges). Each module says where it
//! differs, and why.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod conditions;
mod event;
mod filter;
mod jq;
mod json;
mod lua;
mod problem;
mod reset;
mod resolve;
mod sensor;
mod state;
mod template;

pub use event::{EventContext, EventInput, JSON_CONTENT_TYPE};
pub use problem::Problem;
pub use reset::CronSchedule;
pub use resolve::{
    HttpRequest, LABEL_ACTION_TIMESTAMP, LABEL_SENSOR, LABEL_TRIGGER, ResolvedTrigger,
    TriggerAction, TriggerError, TriggerSettings,
};
pub use sensor::{
    ClearReason, Cleared, CompiledSensor, DependencyResult, EventOutcome, Firing, Verdict,
};
pub use state::{PendingEvent, RECENT_EVENTS, SensorState};

/// Most Lua VM instructions one script run may execute.
pub const LUA_MAX_INSTRUCTIONS: u32 = lua::MAX_INSTRUCTIONS;
/// Most memory one Lua script run may allocate, in bytes.
pub const LUA_MEMORY_LIMIT: usize = lua::MEMORY_LIMIT;
