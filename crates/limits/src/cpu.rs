//! Bounded pools for CPU-heavy work (argon2, signature checks).
//!
//! Each pool owns a thread per slot, so the async workers keep answering
//! (`/healthz` among them) however many jobs arrive, and memory a job
//! allocates stays with its thread for the next one: argon2's 19 MiB per hash
//! is held by a fixed set of threads instead of every short-lived blocking
//! thread's allocator arena. At most one job per thread is admitted; a job
//! that cannot start within `wait` is refused, and the caller answers 503
//! with `Retry-After`, rather than queueing behind a flood.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CpuPoolError {
    /// Every slot stayed busy for the whole wait.
    #[error("too many {0} at once; retry shortly")]
    Busy(&'static str),
    /// The job panicked, or its thread could not be started.
    #[error("a {0} job failed")]
    Failed(&'static str),
}

impl CpuPoolError {
    /// How long a refused caller should wait before it retries.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(1)
    }
}

type OnRefused = Box<dyn Fn() + Send + Sync>;
type Job = Box<dyn FnOnce() + Send>;

pub struct CpuPool {
    /// What the jobs are, for errors and logs: "password checks", "signature checks".
    work: &'static str,
    permits: Arc<Semaphore>,
    wait: Duration,
    /// To the pool's threads; they end when the pool is dropped.
    jobs: mpsc::Sender<Job>,
    on_refused: OnRefused,
}

impl CpuPool {
    /// `threads` jobs at once, each on a thread of the pool's own.
    pub fn new(work: &'static str, threads: usize, wait: Duration) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for n in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cpu-{work}-{n}").replace(' ', "-"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(job) = next else { return };
                        job();
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(work, error = %e, "cannot start a CPU pool thread"),
            }
        }
        Self {
            work,
            // No thread, no slot: every job is refused rather than left waiting.
            permits: Arc::new(Semaphore::new(started)),
            wait,
            jobs,
            on_refused: Box::new(|| {}),
        }
    }

    /// A thread per available core.
    pub fn per_core(work: &'static str, wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(work, cores, wait)
    }

    /// Calls `count` on every refused job (a metric's increment).
    pub fn counting_refusals(mut self, count: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_refused = Box::new(count);
        self
    }

    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuPoolError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = permit else {
            (self.on_refused)();
            tracing::warn!(work = self.work, "CPU pool full; job refused");
            return Err(CpuPoolError::Busy(self.work));
        };
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(job));
            // The slot frees once the job is over, whether or not anyone still waits.
            drop(permit);
            let _ = done.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| CpuPoolError::Failed(self.work))?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(CpuPoolError::Failed(self.work)),
        }
    }
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("work", &self.work)
            .field("free", &self.permits.available_permits())
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_full_pool_refuses_after_its_wait_and_counts_the_refusal() {
        let refused = Arc::new(AtomicUsize::new(0));
        let counted = refused.clone();
        let pool = Arc::new(
            CpuPool::new("test jobs", 1, Duration::from_millis(20)).counting_refusals(move || {
                counted.fetch_add(1, Ordering::Relaxed);
            }),
        );
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                    7
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();

        let second = pool.run(|| 8).await;
        assert_eq!(second, Err(CpuPoolError::Busy("test jobs")));
        assert_eq!(refused.load(Ordering::Relaxed), 1);

        release_tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap(), Ok(7));
        assert_eq!(pool.run(|| 9).await, Ok(9), "the slot is free again");
        assert_eq!(refused.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn jobs_run_on_the_pools_own_threads_and_reuse_them() {
        let pool = CpuPool::new("test jobs", 1, Duration::from_millis(20));
        let first = pool.run(|| std::thread::current().id()).await.unwrap();
        let second = pool.run(|| std::thread::current().id()).await.unwrap();
        assert_eq!(first, second);
        assert_ne!(first, std::thread::current().id());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_without_losing_its_slot() {
        let pool = CpuPool::new("test jobs", 1, Duration::from_millis(20));
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert_eq!(failed, Err(CpuPoolError::Failed("test jobs")));
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }
}
