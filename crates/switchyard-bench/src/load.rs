//! The load generator: HTTP/1.1 POSTs over a fixed pool of kept-alive connections, sent on
//! an open-loop schedule.
//!
//! A [`Schedule`] fixes every request's send time before the run starts (request `i` at
//! `i / rate` seconds). A timer thread releases each request when its time comes; the
//! connections take released requests in order, one in flight per connection. A request's
//! latency runs from its *scheduled* time to the end of its answer, so time spent waiting for
//! a free connection, because the server is slow to answer the ones before, counts against
//! the server: coordinated omission is not hidden. A request whose time is more than the
//! drain period past when a connection frees up is not sent at all and counts as unsent.
//!
//! The connections are hyper's client connection API over tokio's TCP streams, with nothing
//! else between the generator and the socket, so that the generator stays cheap; its own
//! CPU time is measured and reported with every probe.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::stats::Summary;

/// When each request of a run is due: `count` requests, one every `1 / rate` seconds,
/// the first at offset zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub rate: f64,
    pub count: u64,
}

impl Schedule {
    /// `rate` requests per second for `seconds` (rounded to whole requests, at least one).
    pub fn for_duration(rate: f64, seconds: f64) -> Schedule {
        Schedule {
            rate,
            count: ((rate * seconds).round() as u64).max(1),
        }
    }

    /// The send time of request `i`, from the start of the run.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_nanos((i as f64 * 1e9 / self.rate) as u64)
    }

    /// How many requests are due `elapsed` after the start: those whose offset is at most
    /// `elapsed`, never more than `count`.
    pub fn due(&self, elapsed: Duration) -> u64 {
        let estimate = (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1;
        let mut k = estimate.min(self.count);
        // The float estimate may be off by one either way; settle it against `offset`.
        while k < self.count && self.offset(k) <= elapsed {
            k += 1;
        }
        while k > 0 && self.offset(k - 1) > elapsed {
            k -= 1;
        }
        k
    }

    /// The send time of the last request.
    pub fn span(&self) -> Duration {
        self.offset(self.count.saturating_sub(1))
    }
}

/// Where requests go: `POST http://{addr}{path}` with `body` as JSON.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub body: Bytes,
}

impl Target {
    pub fn new(addr: SocketAddr, path: &str, body: &str) -> Target {
        Target {
            addr,
            path: path.to_owned(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }
}

/// How a request ended, when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer with this status (its body read to the end).
    Status(u16),
    /// The connection failed or closed (it is opened again for the next request).
    ConnectionError,
    /// No answer within the request timeout (the connection is dropped).
    Timeout,
}

/// One kept-alive connection; reopened after an error.
pub struct Connection {
    target: Target,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Connection {
    /// Opens a connection to `target`.
    pub async fn open(target: &Target, timeout: Duration) -> Result<Connection> {
        let mut c = Connection {
            target: target.clone(),
            host: target.addr.to_string(),
            sender: None,
            timeout,
        };
        c.sender = Some(c.handshake().await?);
        Ok(c)
    }

    async fn handshake(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(self.target.addr)
            .await
            .with_context(|| format!("connecting to {}", self.target.addr))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("the HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// POSTs the target's body, with `body` instead when given.
    pub async fn post(&mut self, body: Option<Bytes>) -> Answer {
        if self.sender.is_none() {
            match tokio::time::timeout(self.timeout, self.handshake()).await {
                Ok(Ok(s)) => self.sender = Some(s),
                _ => return Answer::ConnectionError,
            }
        }
        let Some(sender) = self.sender.as_mut() else {
            return Answer::ConnectionError;
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.target.path.as_str())
            .header(HOST, self.host.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.unwrap_or_else(|| self.target.body.clone())));
        let Ok(request) = request else {
            return Answer::ConnectionError;
        };
        let exchange = async {
            sender.ready().await.ok()?;
            let response = sender.send_request(request).await.ok()?;
            let status = response.status().as_u16();
            response.into_body().collect().await.ok()?;
            Some(status)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Some(status)) => Answer::Status(status),
            Ok(None) => {
                self.sender = None;
                Answer::ConnectionError
            }
            Err(_) => {
                self.sender = None;
                Answer::Timeout
            }
        }
    }
}

/// How one open-loop run goes.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub schedule: Schedule,
    /// Kept-alive connections, each with one request in flight at most.
    pub connections: usize,
    /// How long one request may take before it counts as failed.
    pub timeout: Duration,
    /// After the last send time, how long requests still waiting for a connection may be
    /// sent; later ones count as unsent.
    pub drain: Duration,
}

/// What one open-loop run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub offered_rate: f64,
    pub scheduled: u64,
    /// Answered with a 2xx.
    pub ok: u64,
    /// Answered with another status.
    pub non_2xx: u64,
    pub connection_errors: u64,
    pub timeouts: u64,
    /// Not sent: their time was more than the drain period past.
    pub unsent: u64,
    /// Every status seen, with its count.
    pub statuses: BTreeMap<u16, u64>,
    /// 2xx answers per second, from the first scheduled send to the last answer.
    pub achieved_rate: f64,
    /// From the first scheduled send to the last answer.
    pub elapsed_ms: f64,
    /// Latency of 2xx answers from their scheduled send time.
    pub latency: Option<Summary>,
    /// CPU time this process (the load generator) used during the run, as a share of one
    /// core over the run's elapsed time.
    pub generator_cpu_cores: f64,
    /// CPU time the server process used during the run, as a share of one core.
    pub server_cpu_cores: Option<f64>,
}

impl ProbeResult {
    /// Requests that were sent and not answered with a 2xx.
    pub fn failed(&self) -> u64 {
        self.non_2xx + self.connection_errors + self.timeouts
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    connection_errors: u64,
    timeouts: u64,
    unsent: u64,
}

/// Runs `probe` against `target`; `server_cpu` reads the server's CPU time so far (for its
/// share during the run). The connections are opened before the first send time.
pub async fn run(
    target: &Target,
    probe: Probe,
    server_cpu: impl Fn() -> Option<Duration>,
) -> Result<ProbeResult> {
    let schedule = probe.schedule;
    let workers = probe.connections.max(1);
    let mut connections = Vec::with_capacity(workers);
    for _ in 0..workers {
        connections.push(Connection::open(target, probe.timeout).await?);
    }
    let released = Arc::new(Semaphore::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let generator_before = own_cpu_time();
    let server_before = server_cpu();
    // A little ahead, so every connection task is waiting when the first request is due.
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start + schedule.span() + probe.drain;

    let timer = {
        let released = released.clone();
        std::thread::Builder::new()
            .name("load-timer".into())
            .spawn(move || release_on_schedule(schedule, start, &released, workers))
            .context("starting the load generator's timer thread")?
    };
    let mut tasks = Vec::with_capacity(workers);
    for mut connection in connections {
        let released = released.clone();
        let next = next.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Tally::default();
            let mut last_answer = start;
            loop {
                match released.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => break,
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= schedule.count {
                    break;
                }
                let due = start + schedule.offset(i);
                if Instant::now() > deadline {
                    mine.unsent += 1;
                    continue;
                }
                let answer = connection.post(None).await;
                let now = Instant::now();
                last_answer = last_answer.max(now);
                match answer {
                    Answer::Status(status) => {
                        *mine.statuses.entry(status).or_default() += 1;
                        if (200..300).contains(&status) {
                            mine.latencies_us
                                .push(micros(now.saturating_duration_since(due)));
                        }
                    }
                    Answer::ConnectionError => mine.connection_errors += 1,
                    Answer::Timeout => mine.timeouts += 1,
                }
            }
            let mut all = tally.lock().map_err(|_| anyhow!("a load task panicked"))?;
            all.latencies_us.append(&mut mine.latencies_us);
            for (status, n) in mine.statuses {
                *all.statuses.entry(status).or_default() += n;
            }
            all.connection_errors += mine.connection_errors;
            all.timeouts += mine.timeouts;
            all.unsent += mine.unsent;
            anyhow::Ok(last_answer)
        }));
    }
    let mut last_answer = start;
    for task in tasks {
        let finished = task.await.context("a load task panicked")??;
        last_answer = last_answer.max(finished);
    }
    timer
        .join()
        .map_err(|_| anyhow!("the load generator's timer thread panicked"))?;
    let elapsed = last_answer.saturating_duration_since(start);
    let generator = own_cpu_time()
        .zip(generator_before)
        .map(|(after, before)| after.saturating_sub(before));
    let server = server_cpu()
        .zip(server_before)
        .map(|(after, before)| after.saturating_sub(before));
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow!("a load task outlived the run"))?
        .into_inner()
        .map_err(|_| anyhow!("a load task panicked"))?;
    let ok: u64 = tally
        .statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let answered: u64 = tally.statuses.values().sum();
    let seconds = elapsed.as_secs_f64();
    let share = |cpu: Duration| {
        if seconds > 0.0 {
            cpu.as_secs_f64() / seconds
        } else {
            0.0
        }
    };
    Ok(ProbeResult {
        offered_rate: schedule.rate,
        scheduled: schedule.count,
        ok,
        non_2xx: answered - ok,
        connection_errors: tally.connection_errors,
        timeouts: tally.timeouts,
        unsent: tally.unsent,
        statuses: tally.statuses,
        achieved_rate: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        elapsed_ms: seconds * 1000.0,
        latency: Summary::of_micros(&tally.latencies_us),
        generator_cpu_cores: generator.map_or(f64::NAN, share),
        server_cpu_cores: server.map(share),
    })
}

/// The timer thread: releases each request at its send time (in batches when it wakes late),
/// then one extra permit per connection so that every connection task sees the end.
fn release_on_schedule(schedule: Schedule, start: Instant, released: &Semaphore, workers: usize) {
    // Sleeping less than this between releases costs CPU for no precision: the kernel's
    // timer slack is about as long.
    const MIN_SLEEP: Duration = Duration::from_micros(50);
    let mut issued = 0u64;
    while issued < schedule.count {
        let now = Instant::now();
        let due = schedule.due(now.saturating_duration_since(start));
        if now >= start && due > issued {
            released.add_permits(usize::try_from(due - issued).unwrap_or(usize::MAX));
            issued = due;
            continue;
        }
        let at = start + schedule.offset(issued);
        std::thread::sleep(at.saturating_duration_since(now).max(MIN_SLEEP));
    }
    released.add_permits(workers);
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// CPU time (user + system) of this process so far.
pub fn own_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    crate::server::cpu_time_of_stat(&stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_spaces_requests_evenly() {
        let s = Schedule::for_duration(1000.0, 2.0);
        assert_eq!(s.count, 2000);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_millis(1));
        assert_eq!(s.offset(1500), Duration::from_millis(1500));
        assert_eq!(s.span(), Duration::from_millis(1999));
        assert_eq!(Schedule::for_duration(10.0, 0.01).count, 1);
    }

    #[test]
    fn due_counts_the_requests_whose_time_has_come() {
        let s = Schedule::for_duration(1000.0, 1.0);
        assert_eq!(s.due(Duration::ZERO), 1);
        assert_eq!(s.due(Duration::from_micros(999)), 1);
        assert_eq!(s.due(Duration::from_millis(1)), 2);
        assert_eq!(s.due(Duration::from_millis(10)), 11);
        assert_eq!(s.due(Duration::from_secs(5)), 1000);
    }

    #[test]
    fn due_agrees_with_offset_at_awkward_rates() {
        for rate in [3.0, 7.0, 333.0, 12_345.0, 99_999.0] {
            let s = Schedule::for_duration(rate, 1.0);
            for i in (0..s.count).step_by(7) {
                let at = s.offset(i);
                assert!(
                    s.due(at) > i,
                    "rate {rate}: request {i} is not due at its time"
                );
                if let Some(before) = at.checked_sub(Duration::from_nanos(1)) {
                    assert!(s.due(before) <= i, "rate {rate}: request {i} is due early");
                }
            }
        }
    }

    #[test]
    fn a_probe_counts_failures_apart_from_successes() {
        let mut statuses = BTreeMap::new();
        statuses.insert(200, 10);
        statuses.insert(503, 2);
        let r = ProbeResult {
            offered_rate: 10.0,
            scheduled: 15,
            ok: 10,
            non_2xx: 2,
            connection_errors: 1,
            timeouts: 1,
            unsent: 1,
            statuses,
            achieved_rate: 10.0,
            elapsed_ms: 1000.0,
            latency: None,
            generator_cpu_cores: 0.1,
            server_cpu_cores: None,
        };
        assert_eq!(r.failed(), 4);
    }
}
