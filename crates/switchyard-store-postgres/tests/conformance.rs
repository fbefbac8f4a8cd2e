//! The Store and EventLedger conformance suites, run against PostgreSQL, each case in a schema
//! of its own (see `common`).

#![allow(clippy::unwrap_used)]

mod common;

// The factory expression is evaluated in the body of each generated test, so its `return`
// ends that test: this is how a case is skipped when the server is unreachable.
switchyard_store::store_conformance_tests!({
    let Some(pair) = common::store().await else {
        return;
    };
    std::future::ready(pair)
});

switchyard_store::ledger_conformance_tests!({
    let Some(pair) = common::store().await else {
        return;
    };
    std::future::ready(pair)
});
