//! The event pipeline's async shell.
//!
//! - [`cloudevent`]: events on the bus (CloudEvents 1.0, structured JSON) and their subjects.
//! - [`webhook`]: the webhook EventSource's HTTP servers, one per port; [`sources`] turns
//!   stored EventSources into their routes; [`publish`] filters and publishes their events.
//! - [`metrics`]: Argo Events' metric names.
//!
//! **Invariant:** an EventSource answers a sender with success only after the event is
//! durable; event data is data, never evaluated as a template or an expression.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backlog;
pub mod calendar;
pub mod cloudevent;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod sensors;
pub mod sources;
pub mod triggers;
pub mod webhook;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

fn lock_read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn lock_write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
