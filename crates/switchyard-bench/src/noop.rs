//! B1's baseline: a do-nothing HTTP handler on the server's own stack (axum 0.8 on hyper,
//! `axum::serve`, tokio's multi-thread runtime with its default worker count, as `switchyard
//! up` builds it). It reads each request's body, as the webhook does, and answers `200
//! success` to a POST and `405` to anything else. It runs as its own process
//! (`switchyard-bench noop-server`), so the load generator measures it from outside exactly as
//! it measures Switchyard.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The line the server prints on stdout once it accepts connections.
const READY: &str = "noop server listening on ";

/// Serves on `listen` until the process is killed.
pub fn serve(listen: SocketAddr) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        println!("{READY}{addr}");
        let app = axum::Router::new().fallback(handle);
        axum::serve(listener, app).await.context("serving")
    })
}

async fn handle(request: Request) -> Response {
    if request.method() != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let body: Body = request.into_body();
    if to_bytes(body, 1 << 20).await.is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "success",
    )
        .into_response()
}

/// A `noop-server` process started from this program's own binary; killed when dropped.
pub struct NoopServer {
    child: Child,
    pub addr: SocketAddr,
}

impl NoopServer {
    /// Starts `self_exe noop-server` on a free port of 127.0.0.1 and waits until it listens.
    pub fn start(self_exe: &Path) -> Result<NoopServer> {
        let mut child = Command::new(self_exe)
            .args(["noop-server", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting `{} noop-server`", self_exe.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the noop server's stdout was not captured"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix(READY) {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the noop server did not say where it listens within 30 s");
        };
        let addr = addr
            .parse()
            .with_context(|| format!("the noop server announced {addr:?}, not an address"))?;
        Ok(NoopServer { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NoopServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
