//! Where big instances are torn down: a thread of its own at the lowest priority, not a guest thread.
//!
//! Ending an instance that grew past what the pool keeps resident gives its pages back to the kernel: an `madvise`
//! of up to the memory limit (about 6 ms for 64 MiB here), in the kernel, where no epoch check can interrupt it.
//! Done on a guest thread, it kept that thread from the transactions of every other chaincode; with 64 memory bombs
//! on one chaincode, a quiet chaincode's p99 went to 10 times its quiet value. On this thread the kernel runs it
//! whenever guests leave a CPU idle, and the guest threads first otherwise. The transaction waits for the teardown
//! without holding a CPU turn, and keeps its admission (slot and memory) until the memory is really back.
//!
//! Instances that stayed within the resident size are reset in place in microseconds, on their guest thread: a
//! hand-over to another thread would cost more than it saves.

use std::sync::mpsc;

use crate::limits;

type Job = Box<dyn FnOnce() + Send>;

/// The teardown thread. Stops when dropped, after the jobs already handed over.
pub struct Release {
    jobs: mpsc::Sender<Job>,
}

/// The release thread went away before it ran a job (it cannot, short of a panic in the kernel call's wrapper).
#[derive(Debug, thiserror::Error)]
#[error("the instance release thread ended before releasing this instance")]
pub struct ReleaseLost;

impl Release {
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("wasmcc-release".into()).spawn(move || {
            super::threads::lower_priority_to(limits::RELEASE_THREAD_NICE);
            for job in queue {
                // A job that panics loses only its own answer (its caller sees `ReleaseLost`), never the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
        Ok(Release { jobs })
    }

    /// Runs `end` on the release thread and returns what it returns. Runs it here when the thread is gone.
    pub async fn run<T, F>(&self, end: F) -> Result<T, ReleaseLost>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(end());
        });
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job();
        }
        answered.await.map_err(|_| ReleaseLost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_release_thread_at_the_lowest_priority_and_survive_a_panic() {
        let release = Release::start().unwrap();
        let (name, nice) = release
            .run(|| {
                let tid = rustix::thread::gettid();
                (std::thread::current().name().map(str::to_string), rustix::process::getpriority_process(Some(tid)))
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("wasmcc-release"));
        assert!(nice.unwrap() >= limits::RELEASE_THREAD_NICE);
        assert!(release.run(|| -> () { panic!("a job that fails") }).await.is_err());
        assert_eq!(release.run(|| 7).await.unwrap(), 7, "the thread outlives a panicking job");
    }
}
