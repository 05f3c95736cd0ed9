//! All argon2 work of the server (PSUs, developers, operators, password set
//! and reset) runs here: on the blocking pool, at most one job per core, and
//! a job that cannot start within a short wait is refused (the caller answers
//! 503) rather than queueing behind a flood. An unknown login costs exactly
//! what a known one does: one verification, against a dummy hash made once at
//! start with the same parameters.

use std::time::Duration;

use fintechapi_domain::password::PasswordHash;
use fintechapi_limits::{CpuPool, CpuPoolError};

/// How long a check may wait for a free core before it is refused.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum PasswordPoolError {
    /// Every core is busy hashing and the wait ran out.
    #[error("too many password checks at once")]
    Busy,
    #[error("password hashing failed")]
    Hashing,
}

impl From<CpuPoolError> for PasswordPoolError {
    fn from(e: CpuPoolError) -> Self {
        match e {
            CpuPoolError::Busy(_) => Self::Busy,
            CpuPoolError::Failed(_) => Self::Hashing,
        }
    }
}

pub struct PasswordPool {
    pool: CpuPool,
    dummy: PasswordHash,
}

impl PasswordPool {
    /// One job per available core, each waiting up to two seconds for its turn.
    pub fn new() -> Result<Self, PasswordPoolError> {
        Self::on(CpuPool::per_core("password checks", QUEUE_WAIT))
    }

    pub fn with_limits(jobs: usize, wait: Duration) -> Result<Self, PasswordPoolError> {
        Self::on(CpuPool::new("password checks", jobs, wait))
    }

    /// Password work on `pool` (sized and counted by the server).
    pub fn on(pool: CpuPool) -> Result<Self, PasswordPoolError> {
        let dummy = PasswordHash::create("dummy password for timing")
            .map_err(|_| PasswordPoolError::Hashing)?;
        Ok(Self { pool, dummy })
    }

    /// Whether `password` matches `hash`; with None (unknown login, or one
    /// that may not be checked now) the dummy is verified, which never matches.
    pub async fn verify(
        &self,
        hash: Option<PasswordHash>,
        password: String,
    ) -> Result<bool, PasswordPoolError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.clone());
        let matched = self.pool.run(move || hash.verify(&password)).await?;
        Ok(known && matched)
    }

    pub async fn hash(&self, password: String) -> Result<PasswordHash, PasswordPoolError> {
        self.pool
            .run(move || PasswordHash::create(&password))
            .await?
            .map_err(|_| PasswordPoolError::Hashing)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn unknown_logins_never_match_and_a_full_pool_refuses() {
        let pool = Arc::new(PasswordPool::with_limits(1, Duration::from_millis(1)).unwrap());
        let hash = pool.hash("correct horse".into()).await.unwrap();
        assert!(
            pool.verify(Some(hash.clone()), "correct horse".into())
                .await
                .unwrap()
        );
        assert!(!pool.verify(Some(hash), "wrong".into()).await.unwrap());
        assert!(
            !pool
                .verify(None, "dummy password for timing".into())
                .await
                .unwrap()
        );

        let busy = pool.clone();
        let first = tokio::spawn(async move { busy.hash("one".into()).await });
        tokio::task::yield_now().await;
        let second = pool.hash("two".into()).await;
        assert!(matches!(second, Err(PasswordPoolError::Busy)));
        assert!(first.await.unwrap().is_ok());
    }
}
