//! Where [`crate::apply()`] runs: on a thread with a stack deep enough for the deepest template
//! nesting, whatever the caller's stack is. Templates nest up to [`crate::exec::MAX_DEPTH`]
//! levels, each a few recursive calls, and an unoptimized build needs about 6 MiB for the
//! deepest run, more than a test thread or an async runtime's worker has.
//!
//! Making such a thread for every command costs more than most commands (mapping and unmapping
//! the stack), so the threads are kept: a command takes an idle one (or makes one), hands it
//! the work, waits for the answer and gives the thread back. There are never more threads
//! than commands applied at the same time.

use std::sync::Mutex;
use std::sync::mpsc::{self, Sender};

/// Stack of an engine thread.
const STACK: usize = 64 << 20;

type Job = Box<dyn FnOnce() + Send>;

/// Engine threads that wait for work, each on its own channel.
struct Pool {
    idle: Mutex<Vec<Sender<Job>>>,
}

static POOL: Pool = Pool {
    idle: Mutex::new(Vec::new()),
};

/// Runs `work` on an engine thread and returns its result. `work` must not panic (the caller
/// catches panics inside it); if no engine thread can be made, it runs on the caller's thread.
pub(crate) fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    POOL.run(work)
}

impl Pool {
    fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (answer_tx, answer) = mpsc::sync_channel::<T>(1);
        let mut job: Job = Box::new(move || {
            // The caller waits on `answer` until this has run.
            let _ = answer_tx.send(work());
        });
        let mut busy = None;
        loop {
            let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(worker) = idle.or_else(spawn) else {
                job();
                break;
            };
            match worker.send(job) {
                Ok(()) => {
                    busy = Some(worker);
                    break;
                }
                // That thread is gone: take the job back and try another one.
                Err(mpsc::SendError(back)) => job = back,
            }
        }
        let result = answer.recv();
        if let (Some(worker), Ok(mut idle)) = (busy, self.idle.lock()) {
            idle.push(worker);
        }
        match result {
            Ok(result) => result,
            // A job always answers: it runs to its end (panics are caught inside it), on an
            // engine thread or here, and an engine thread ends only when its channel closes.
            Err(_) => unreachable!("an engine thread dropped a command without answering"),
        }
    }
}

/// Makes an engine thread; `None` when the system refuses a new thread.
fn spawn() -> Option<Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("switchyard-engine".into())
        .stack_size(STACK)
        .spawn(move || {
            for job in rx {
                job();
            }
        })
        .ok()?;
    Some(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_kept_engine_thread() {
        let pool = Pool {
            idle: Mutex::new(Vec::new()),
        };
        let first = pool.run(std::thread::current);
        let second = pool.run(std::thread::current);
        assert_eq!(first.name(), Some("switchyard-engine"));
        assert_eq!(first.id(), second.id());
        assert_eq!(pool.idle.lock().unwrap().len(), 1);
        assert_ne!(first.id(), std::thread::current().id());
    }

    #[test]
    fn deep_recursion_fits_the_engine_stack() {
        fn depth(n: u64) -> u64 {
            let pad = std::hint::black_box([n; 512]);
            if n == 0 {
                pad[0]
            } else {
                depth(n - 1) + 1 + pad[1] - n
            }
        }
        // About 4 KiB per frame, 8 MiB in all: more than a test thread's stack.
        assert_eq!(run(|| depth(2048)), 2048);
    }
}
