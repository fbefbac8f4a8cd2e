//! The connection pool, and the two ways a store call uses it: one statement on a pooled
//! connection ([`Pool::run`]) or one transaction ([`Pool::transact`]), each with the retries
//! it allows and a deadline for the whole call.
//!
//! deadpool-postgres keeps the connections (it builds offline here, and its "fast"
//! recycling hands out a connection only after checking that tokio-postgres has not seen it
//! close, which costs no round trip). On top of it:
//! - **A broken connection is never reused.** A call that fails because its connection
//!   broke, or that runs out of time, drops the connection instead of returning it; the pool
//!   opens a new one for the next call. This is how the store recovers by itself when the
//!   server restarts.
//! - **Retries the caller cannot tell from a first try.** A transaction whose connection
//!   broke before `COMMIT` was sent has been rolled back by the server, and one the server
//!   rolled back to resolve a serialization failure or a deadlock can run again from the
//!   start; both are retried (a few times, with a short random backoff). A read is retried
//!   on a new connection if its own broke. A connection that breaks while committing, or
//!   under a single-statement write, leaves the outcome unknown: that is returned as
//!   [`StoreError::Unavailable`] saying so, as the port's contract allows.

use deadpool_postgres::{
    Client, Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime, TimeoutType,
    Transaction,
};
use rand::Rng;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;
use switchyard_store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::config::PostgresConfig;
use crate::errors::{Cause, Failure, map};

/// The work of one call, borrowing its connection or transaction for `'a`.
pub(crate) type Work<'a, T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + Send + 'a>>;

/// Ties the borrow of a connection (`'a`) to the caller's environment (`'env`): a closure
/// `for<'a> FnMut(&'a Transaction<'a>, Scope<'a, 'env>) -> Work<'a, T>` may then return a
/// future that also borrows from the caller, because `&'a &'env ()` is only well formed when
/// `'env` outlives `'a`. Without it the closure's future could borrow nothing but the
/// connection.
pub(crate) type Scope<'a, 'env> = PhantomData<&'a &'env ()>;

/// Attempts of a transaction the server rolled back (serialization failure, deadlock).
const MAX_ATTEMPTS: u32 = 8;
/// New connections a call may try after its connection broke.
const MAX_RECONNECTS: u32 = 2;

/// What a single-statement call may do again when its connection breaks under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// Reads only: run it again on a new connection.
    Read,
    /// Writes: it may have been committed; report the unknown outcome.
    Write,
}

/// Where a transaction failed, which decides whether it may run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Begin,
    Work,
    Commit,
}

pub(crate) struct Pool {
    inner: deadpool_postgres::Pool,
    /// `user@host:port/db, schema s`, for messages.
    pub(crate) server: String,
    call_timeout: Duration,
}

impl Pool {
    pub(crate) fn new(
        pg: tokio_postgres::Config,
        config: &PostgresConfig,
        server: String,
    ) -> Result<Self, StoreError> {
        let connect_timeout = pg
            .get_connect_timeout()
            .copied()
            .unwrap_or(config.connect_timeout);
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(config.max_connections)
            .runtime(Runtime::Tokio1)
            // Waiting for a free connection is bounded by the call's own deadline.
            .wait_timeout(None)
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(connect_timeout))
            .build()
            .map_err(|e| StoreError::Internal {
                reason: format!("cannot build the connection pool for {server}: {e}"),
            })?;
        Ok(Pool {
            inner,
            server,
            call_timeout: config.call_timeout,
        })
    }

    /// How many connections the pool holds, idle or in use.
    #[cfg(test)]
    pub(crate) fn status(&self) -> deadpool_postgres::Status {
        self.inner.status()
    }

    /// A pooled connection; a new one if none is idle.
    async fn connection(&self) -> Result<Lease, Failure> {
        match self.inner.get().await {
            Ok(client) => Ok(Lease {
                client: Some(client),
                reuse: false,
            }),
            Err(PoolError::Backend(e)) => Err(map(e, &format!("connecting to {}", self.server))),
            Err(PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle)) => Err(Failure {
                error: StoreError::Unavailable {
                    reason: format!("connecting to {} timed out", self.server),
                },
                cause: Cause::Lost,
            }),
            Err(other) => Err(Failure::from(StoreError::Internal {
                reason: format!("the connection pool for {} failed: {other}", self.server),
            })),
        }
    }

    /// Runs `doing` under the call deadline.
    async fn deadline<T>(
        &self,
        doing: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => result,
            // The call's future, and with it its connection, is dropped: a connection that
            // stopped answering is closed, not reused.
            Err(_) => Err(StoreError::Unavailable {
                reason: format!(
                    "{doing} on {} took longer than {:?}; if it was a write, it may or may not have been applied",
                    self.server, self.call_timeout
                ),
            }),
        }
    }

    /// Runs `work` (one statement, or several that need no transaction) on a pooled
    /// connection. `doing` completes "... failed while" in messages.
    pub(crate) async fn run<'env, T, F>(
        &self,
        call: Call,
        doing: &str,
        mut work: F,
    ) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'a> FnMut(&'a Client, Scope<'a, 'env>) -> Work<'a, T> + Send,
    {
        self.deadline(doing, async {
            let mut attempts = 0;
            let mut reconnects = 0;
            loop {
                attempts += 1;
                let mut lease = self.connection().await.map_err(|f| f.error)?;
                let client = lease.client().map_err(|f| f.error)?;
                let failure = match work(client, PhantomData).await {
                    Ok(value) => {
                        lease.reuse = true;
                        return Ok(value);
                    }
                    Err(failure) => failure,
                };
                let lost = lease.settle(&failure);
                match failure.cause {
                    Cause::Rolled if attempts < MAX_ATTEMPTS => backoff(attempts).await,
                    _ if lost && call == Call::Read && reconnects < MAX_RECONNECTS => {
                        reconnects += 1;
                    }
                    _ if lost && call == Call::Write => {
                        return Err(StoreError::Unavailable {
                            reason: format!(
                                "the connection to {} broke while {doing}, so it may or may not have been applied: {}",
                                self.server,
                                reason(&failure.error)
                            ),
                        });
                    }
                    _ => return Err(failure.error),
                }
            }
        })
        .await
    }

    /// Runs `work` in one transaction (READ COMMITTED; see the crate docs for why that is
    /// enough) and commits it. `work` may run more than once: it must start from its inputs
    /// each time.
    pub(crate) async fn transact<'env, T, F>(
        &self,
        doing: &str,
        mut work: F,
    ) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'a> FnMut(&'a Transaction<'a>, Scope<'a, 'env>) -> Work<'a, T> + Send,
    {
        self.deadline(doing, async {
            let mut attempts = 0;
            let mut reconnects = 0;
            loop {
                attempts += 1;
                let mut lease = self.connection().await.map_err(|f| f.error)?;
                let outcome = async {
                    let client = lease.client_mut().map_err(|f| (f, Stage::Begin))?;
                    let tx = client
                        .transaction()
                        .await
                        .map_err(|e| (map(e, "starting a transaction"), Stage::Begin))?;
                    let value = work(&tx, PhantomData)
                        .await
                        .map_err(|f| (f, Stage::Work))?;
                    tx.commit()
                        .await
                        .map_err(|e| (map(e, &format!("committing ({doing})")), Stage::Commit))?;
                    Ok(value)
                }
                .await;
                let (failure, stage) = match outcome {
                    Ok(value) => {
                        lease.reuse = true;
                        return Ok(value);
                    }
                    Err(failed) => failed,
                };
                let lost = lease.settle(&failure);
                match failure.cause {
                    Cause::Rolled if attempts < MAX_ATTEMPTS => backoff(attempts).await,
                    // Before COMMIT went out, a broken connection means the server rolled the
                    // transaction back: nothing happened, run it again.
                    _ if lost && stage != Stage::Commit && reconnects < MAX_RECONNECTS => {
                        reconnects += 1;
                    }
                    _ if lost && stage == Stage::Commit => {
                        return Err(StoreError::Unavailable {
                            reason: format!(
                                "the connection to {} broke while committing ({doing}), so the write may or may not have been applied: {}",
                                self.server,
                                reason(&failure.error)
                            ),
                        });
                    }
                    _ => return Err(failure.error),
                }
            }
        })
        .await
    }
}

/// The text of an error, without its class's framing.
fn reason(error: &StoreError) -> String {
    match error {
        StoreError::Unavailable { reason } | StoreError::Internal { reason } => reason.clone(),
        StoreError::Corrupt { what } => what.clone(),
        other => other.to_string(),
    }
}

/// Sleeps a random 1 ms to 2^attempt ms (at most 128 ms), so transactions the server rolled
/// back against each other do not meet again at once.
async fn backoff(attempt: u32) {
    let ceiling = 1u64 << attempt.min(7);
    let millis = rand::rng().random_range(1..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// A pooled connection for one call. Dropped without [`Lease::reuse`] set, the connection is
/// closed instead of going back to the pool: whatever state it is in (a broken socket, a
/// statement cut off by the call deadline) does not reach the next caller.
struct Lease {
    client: Option<Object>,
    reuse: bool,
}

impl Lease {
    fn client(&self) -> Result<&Client, Failure> {
        self.client.as_ref().ok_or_else(gone)
    }

    fn client_mut(&mut self) -> Result<&mut Client, Failure> {
        self.client.as_mut().ok_or_else(gone)
    }

    /// Decides after a failure whether the connection goes back to the pool: only when it did
    /// not break. Returns true when it broke.
    fn settle(&mut self, failure: &Failure) -> bool {
        let closed = self.client.as_ref().is_none_or(|c| c.is_closed());
        let lost = failure.cause == Cause::Lost || closed;
        self.reuse = !lost;
        lost
    }
}

fn gone() -> Failure {
    Failure::from(StoreError::Internal {
        reason: "a pooled connection was used after it was given up".to_owned(),
    })
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !self.reuse
        {
            // Taking it out of the pool and dropping it closes the connection.
            drop(Object::take(client));
        }
    }
}

/// Runs one statement (prepared once per connection) and returns its rows.
pub(crate) async fn query(
    c: &(impl deadpool_postgres::GenericClient + ?Sized),
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    doing: &str,
) -> Result<Vec<Row>, Failure> {
    let statement = c.prepare_cached(sql).await.map_err(|e| map(e, doing))?;
    c.query(&statement, params).await.map_err(|e| map(e, doing))
}

/// Runs one statement and returns its row, if any (at most one is expected).
pub(crate) async fn query_opt(
    c: &(impl deadpool_postgres::GenericClient + ?Sized),
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    doing: &str,
) -> Result<Option<Row>, Failure> {
    let statement = c.prepare_cached(sql).await.map_err(|e| map(e, doing))?;
    c.query_opt(&statement, params)
        .await
        .map_err(|e| map(e, doing))
}

/// Runs one statement and returns how many rows it changed.
pub(crate) async fn execute(
    c: &(impl deadpool_postgres::GenericClient + ?Sized),
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    doing: &str,
) -> Result<u64, Failure> {
    let statement = c.prepare_cached(sql).await.map_err(|e| map(e, doing))?;
    c.execute(&statement, params)
        .await
        .map_err(|e| map(e, doing))
}

/// Reads column `idx` of a row.
pub(crate) fn column<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    idx: usize,
    doing: &str,
) -> Result<T, Failure> {
    row.try_get(idx).map_err(|e| map(e, doing))
}
