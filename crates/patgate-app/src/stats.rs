//! What the app counts for operators (`/metrics`): how verifications end, and how the scheduled
//! jobs run. Plain atomics, bumped on the request path at the cost of one relaxed add.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::jobs::JOBS;

#[derive(Debug, Default)]
pub struct AppStats {
    verify_hits: AtomicU64,
    verify_misses: AtomicU64,
    verify_refused: AtomicU64,
    /// Per job of [`JOBS`], in its order: runs that finished, runs that failed.
    job_runs: [(AtomicU64, AtomicU64); JOBS.len()],
}

/// A reading of [`AppStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Tokens verified from the cache.
    pub verify_hits: u64,
    /// Tokens verified after a lookup in the store.
    pub verify_misses: u64,
    /// Tokens refused: malformed, unknown, expired or deleted.
    pub verify_refused: u64,
    /// `(job, finished, failed)` per job.
    pub job_runs: Vec<(&'static str, u64, u64)>,
}

impl AppStats {
    pub(crate) fn verified(&self, from_cache: bool) {
        let counter = if from_cache {
            &self.verify_hits
        } else {
            &self.verify_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.verify_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn job_ran(&self, job: &str, ok: bool) {
        if let Some((finished, failed)) = JOBS
            .iter()
            .position(|j| j.name == job)
            .and_then(|i| self.job_runs.get(i))
        {
            if ok { finished } else { failed }.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            verify_hits: read(&self.verify_hits),
            verify_misses: read(&self.verify_misses),
            verify_refused: read(&self.verify_refused),
            job_runs: JOBS
                .iter()
                .zip(&self.job_runs)
                .map(|(j, (finished, failed))| (j.name, read(finished), read(failed)))
                .collect(),
        }
    }
}
