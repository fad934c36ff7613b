//! Password hashing: argon2id, PHC strings, bounded memory.
//!
//! One argon2id computation holds `memory_kib` (19 MiB by default) for its duration,
//! and sign-up and login are public. [`Hasher`] bounds them: at most `permits`
//! computations at once (sized from a memory budget), each in a reusable buffer (no
//! allocator churn: the process's peak stays at permits × memory), a short queue
//! behind them, and `RESOURCE_EXHAUSTED` with `RetryInfo` beyond it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use pp_error::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// argon2id cost. Defaults follow OWASP's minimum (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

impl PasswordPolicy {
    fn params(&self) -> Result<Params, String> {
        Params::new(self.memory_kib, self.iterations, 1, Some(OUTPUT_LEN))
            .map_err(|err| format!("argon2 parameters: {err}"))
    }

    /// A new PHC string for `password`, computed in `memory`.
    fn hash_in(&self, password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
        let params = self.params()?;
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| "rng failure".to_owned())?;
        let mut out = [0u8; OUTPUT_LEN];
        compute(&params, password, &salt, &mut out, memory)?;
        let salt = SaltString::encode_b64(&salt).map_err(|err| err.to_string())?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|err| err.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|err| err.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC string (its own parameters apply).
    fn verify_in(&self, password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        let (Ok(params), Some(salt), Some(expected)) =
            (Params::try_from(&hash), hash.salt, hash.hash)
        else {
            return false;
        };
        if hash.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        let mut salt_bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let Ok(params) = Params::new(
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            Some(expected.len()),
        ) else {
            return false;
        };
        compute(&params, password, salt, &mut out, memory).is_ok()
            && Output::new(&out).is_ok_and(|computed| computed == expected)
    }
}

/// argon2id of `password` into `out`, using `memory` (grown if the parameters need more).
fn compute(
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), String> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .map_err(|err| err.to_string())
}

/// Bounded argon2id: see the module docs.
#[derive(Clone)]
pub struct Hasher {
    policy: PasswordPolicy,
    permits: Arc<Semaphore>,
    /// Callers allowed to wait for a permit (beyond them: RESOURCE_EXHAUSTED at once).
    queue: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    max_wait: Duration,
    concurrency: usize,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("policy", &self.policy)
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

fn busy() -> ApiError {
    ApiError::ResourceExhausted {
        reason: "PASSWORD_HASHING_BUSY",
        retry_after: Duration::from_secs(1),
    }
}

impl Hasher {
    /// At most `concurrent` computations at once, twice as many callers waiting.
    pub fn new(policy: PasswordPolicy, concurrent: usize) -> Self {
        let concurrent = concurrent.max(1);
        Hasher {
            policy,
            permits: Arc::new(Semaphore::new(concurrent)),
            queue: Arc::new(Semaphore::new(concurrent * 2)),
            buffers: Arc::new(Mutex::new(Vec::new())),
            max_wait: Duration::from_secs(2),
            concurrency: concurrent,
        }
    }

    /// As many concurrent computations as fit in `budget_bytes` of memory.
    pub fn with_memory_budget(policy: PasswordPolicy, budget_bytes: u64) -> Self {
        let per_hash = u64::from(policy.memory_kib.max(8)) * 1024;
        Self::new(policy, (budget_bytes / per_hash).max(1) as usize)
    }

    pub fn policy(&self) -> PasswordPolicy {
        self.policy
    }

    /// Computations allowed at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let _queued = self.queue.clone().try_acquire_owned().map_err(|_| busy())?;
        tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// Runs `work` on the blocking pool with a permit and a buffer; both are held
    /// until it finishes, even if the caller stops waiting.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(PasswordPolicy, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permit().await?;
        let buffers = self.buffers.clone();
        let policy = self.policy;
        tokio::task::spawn_blocking(move || {
            let mut memory = buffers
                .lock()
                .map(|mut pool| pool.pop())
                .ok()
                .flatten()
                .unwrap_or_default();
            let result = work(policy, &mut memory);
            if let Ok(mut pool) = buffers.lock() {
                pool.push(memory);
            }
            drop(permit);
            result
        })
        .await
        .map_err(ApiError::internal)
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move |policy, memory| policy.hash_in(&password, memory))
            .await?
            .map_err(ApiError::internal)
    }

    /// The candidates whose stored hash `password` matches, checked one after the
    /// other under one permit. No candidate still costs one computation, so an
    /// unknown email takes as long as a wrong password (no enumeration by timing).
    pub async fn matching<T: Send + 'static>(
        &self,
        password: String,
        candidates: Vec<(T, Option<String>)>,
    ) -> Result<Vec<T>, ApiError> {
        self.run(move |policy, memory| {
            if candidates.is_empty() {
                let _ = policy.hash_in(&password, memory);
            }
            candidates
                .into_iter()
                .filter(|(_, phc)| {
                    phc.as_deref()
                        .is_some_and(|phc| policy.verify_in(&password, phc, memory))
                })
                .map(|(candidate, _)| candidate)
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: PasswordPolicy = PasswordPolicy {
        memory_kib: 1024,
        iterations: 1,
    };

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let hasher = Hasher::new(SMALL, 2);
        let phc = hasher
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let matched = hasher
            .matching(
                "correct horse battery".into(),
                vec![
                    (1, Some(phc.clone())),
                    (2, None),
                    (3, Some("not a phc string".into())),
                ],
            )
            .await
            .expect("verify");
        assert_eq!(matched, vec![1]);
        let wrong = hasher
            .matching("wrong".into(), vec![(1, Some(phc))])
            .await
            .expect("verify");
        assert!(wrong.is_empty());
    }

    #[tokio::test]
    async fn verifies_hashes_made_by_the_argon2_crate_and_other_parameters() {
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(2048, 2, 1, None).expect("params");
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"a-long-password", &salt)
            .expect("hash")
            .to_string();
        let hasher = Hasher::new(SMALL, 1);
        let matched = hasher
            .matching("a-long-password".into(), vec![((), Some(phc))])
            .await
            .expect("verify");
        assert_eq!(matched.len(), 1);
    }

    #[tokio::test]
    async fn beyond_the_queue_callers_are_told_to_retry() {
        let hasher = Hasher::new(SMALL, 1);
        // Hold the one permit and both queue places.
        let _running = hasher.permits.clone().try_acquire_owned().expect("permit");
        let _queued = hasher
            .queue
            .clone()
            .try_acquire_many_owned(2)
            .expect("queue");
        let status = tonic::Status::from(hasher.hash("x".repeat(12)).await.expect_err("busy"));
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(pp_error::retry_delay(&status).is_some());
    }

    #[test]
    fn concurrency_follows_the_memory_budget() {
        let production = PasswordPolicy::default();
        assert_eq!(
            Hasher::with_memory_budget(production, 128 * 1024 * 1024).concurrency(),
            6
        );
        assert_eq!(Hasher::with_memory_budget(production, 1).concurrency(), 1);
    }
}
