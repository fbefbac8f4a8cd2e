//! The EventBus conformance suite against NATS JetStream: every case on a stream of its own,
//! deleted afterwards. Without a reachable NATS each case says it was skipped, except on CI
//! (see `support`).

#![allow(clippy::unwrap_used)]

mod support;

// When NATS is unreachable, `start` returns `None` and the `return` ends the generated test
// (it is expanded inside each test function).
switchyard_bus::bus_conformance_tests!(match support::NatsHarness::start().await {
    Some(harness) => std::future::ready(harness),
    None => return,
});
