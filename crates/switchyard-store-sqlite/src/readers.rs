//! A small pool of read-only connections, used on tokio's blocking threads.
//!
//! WAL mode lets readers run alongside the writer; each read statement sees the latest
//! committed state, so a read that starts after a write returned sees that write. Connections
//! are opened on demand and at most [`MAX_IDLE`] are kept; a connection that failed with an
//! I/O-class error is dropped rather than reused.

use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use switchyard_store::{SecretSealer, StoreError};

use crate::schema;

/// Idle read connections kept open.
pub(crate) const MAX_IDLE: usize = 4;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    sealer: Arc<SecretSealer>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, sealer: Arc<SecretSealer>) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            sealer,
        }
    }

    /// Runs `read` on a pooled connection on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &SecretSealer) -> Result<T, StoreError> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = this.checkout()?;
            let result = read(&conn, &this.sealer);
            if !matches!(result, Err(StoreError::Unavailable { .. })) {
                this.checkin(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Internal {
            reason: format!("a read task failed: {e}"),
        })?
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path),
        }
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
