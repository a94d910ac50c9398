//! Argon2id hashing and verification off the async runtime, with bounded concurrency.
//!
//! Owns the worker pool: a semaphore with one permit per worker (default: one per core) and a
//! wait queue with a hard limit, so a login flood turns into quick `Busy` errors (503) instead
//! of unbounded memory and latency. It must not hash on an async worker thread, and it must not
//! decide whether an unknown user exists: `verify_dummy` exists so callers can make that case
//! cost the same as a wrong password.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash as Phc, SaltString};
use argon2::{Algorithm, Argon2, Block, Version};
use secrecy::ExposeSecret;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::{Password, PasswordError, PasswordHash, PasswordParams};

/// Result of checking a password against a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Verification {
    /// The password does not match.
    Invalid,
    /// The password matches. `needs_rehash` is true when the hash was made with parameters
    /// other than the hasher's current ones: hash the password again and store the new hash.
    Valid {
        /// The stored hash's parameters differ from the current ones.
        needs_rehash: bool,
    },
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Hashes and verifies passwords with Argon2id on tokio's blocking pool.
///
/// Cheap to clone (an `Arc` inside); every clone shares the same workers and queue. Each call
/// carries the caller's tracing span into the blocking thread.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: PasswordParams,
    workers: usize,
    max_queue: usize,
    permits: Arc<Semaphore>,
    /// Callers waiting for a permit; never more than `max_queue`.
    waiting: AtomicUsize,
    /// A hash of a random password with the current parameters, for unknown users.
    dummy: OnceCell<PasswordHash>,
    /// Told how long each call waited for a worker (the server's metrics); set at most once.
    wait_observer: OnceLock<WaitObserver>,
    /// Argon2 working memory, reused between calls (see [`Memory`]).
    memory: Arc<Memory>,
}

/// Argon2's working memory (19 MiB with the default parameters), kept between calls rather
/// than allocated for each: the allocator would otherwise keep every freed block in the arena
/// of whichever blocking thread ran the hash, and resident memory would grow with the number of
/// threads the blocking pool ever used. At most one buffer per worker exists, since only
/// `workers` computations run at once; a hash with larger stored parameters than the current
/// ones gets a buffer of its own, freed after.
#[derive(Default)]
struct Memory {
    buffers: std::sync::Mutex<Vec<Vec<Block>>>,
    /// The block count of the current parameters: buffers are kept at this size.
    blocks: usize,
}

impl Memory {
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks > self.blocks {
            let mut own = vec![Block::new(); blocks];
            return work(&mut own);
        }
        let mut buffer = self.lock().pop().unwrap_or_default();
        if buffer.len() < self.blocks {
            buffer.resize(self.blocks, Block::new());
        }
        let result = work(buffer.get_mut(..blocks).unwrap_or_default());
        self.lock().push(buffer);
        result
    }

    /// Argon2 of `password` and `salt` into `output`, in this memory.
    fn hash(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        output: &mut [u8],
    ) -> Result<(), PasswordError> {
        self.with(argon2.params().block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt, output, blocks)
        })
        .map_err(PasswordError::internal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Receives how long one call waited for a worker (zero when one was free).
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

impl PasswordHasher {
    /// A hasher with `workers` concurrent Argon2 computations (at least 1; use
    /// [`Self::default_workers`] for one per core) and at most `max_queue` callers waiting for
    /// a worker; past that, calls fail at once with [`PasswordError::Busy`]. `max_queue = 0`
    /// means nobody waits.
    pub fn new(params: PasswordParams, workers: usize, max_queue: usize) -> Self {
        let workers = workers.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                params,
                workers,
                max_queue,
                permits: Arc::new(Semaphore::new(workers)),
                waiting: AtomicUsize::new(0),
                dummy: OnceCell::new(),
                wait_observer: OnceLock::new(),
                memory: Arc::new(Memory {
                    buffers: std::sync::Mutex::new(Vec::new()),
                    blocks: params.to_argon2().map_or(0, |p| p.block_count()),
                }),
            }),
        }
    }

    /// One worker per core (`std::thread::available_parallelism`), or 1 if unknown: Argon2 is
    /// CPU-bound, so more workers than cores only add latency.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.inner.params
    }

    /// Number of concurrent Argon2 computations.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Most callers allowed to wait for a worker.
    pub fn max_queue(&self) -> usize {
        self.inner.max_queue
    }

    /// Whether a call made now would be refused with [`PasswordError::Busy`]: every worker is
    /// busy and the queue is full. A hint (the state may change at once); callers use it to
    /// shed work before doing any, and the hashing call itself still decides.
    pub fn is_saturated(&self) -> bool {
        self.inner.permits.available_permits() == 0
            && self.inner.waiting.load(Ordering::Acquire) >= self.inner.max_queue
    }

    /// Callers currently waiting for a worker (not counting those being served).
    pub fn queue_depth(&self) -> usize {
        self.inner.waiting.load(Ordering::Acquire)
    }

    /// Tells `observer` how long each later call waits for a worker (zero when one is free),
    /// for every clone of this hasher. Only the first observer set is kept; returns whether
    /// this one was. The observer runs on the caller's task and must return at once.
    pub fn set_wait_observer(&self, observer: WaitObserver) -> bool {
        self.inner.wait_observer.set(observer).is_ok()
    }

    /// Hashes a password with the current parameters and a fresh 128-bit random salt.
    ///
    /// # Errors
    /// [`PasswordError::Busy`] when the queue is full; `Internal` if Argon2 or the random
    /// generator fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordError> {
        self.hash_in(password, self.inner.memory.clone()).await
    }

    /// [`Self::hash`] into `memory`.
    async fn hash_in(
        &self,
        password: &Password,
        memory: Arc<Memory>,
    ) -> Result<PasswordHash, PasswordError> {
        let params = self.inner.params;
        let secret = password.secret().clone();
        let phc = self
            .run(move || hash_blocking(params, secret.expose_secret().as_bytes(), &memory))
            .await??;
        PasswordHash::from_phc(phc)
    }

    /// Checks a password against a stored hash, using the hash's own parameters.
    ///
    /// # Errors
    /// [`PasswordError::Busy`] when the queue is full; `Internal` if Argon2 fails. A wrong
    /// password is `Ok(Verification::Invalid)`, not an error.
    pub async fn verify(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<Verification, PasswordError> {
        let cost = hash.cost()?;
        let needs_rehash = !self
            .inner
            .params
            .matches(cost.m_cost_kib, cost.t_cost, cost.p_cost);
        let secret = password.secret().clone();
        let hash = hash.clone();
        let memory = self.inner.memory.clone();
        let matched = self
            .run(move || verify_blocking(secret.expose_secret().as_bytes(), hash.as_str(), &memory))
            .await??;
        Ok(if matched {
            Verification::Valid { needs_rehash }
        } else {
            Verification::Invalid
        })
    }

    /// Runs a real verification against a dummy hash made with the current parameters, and
    /// discards the result: for unknown or disabled users, so that their login takes as long
    /// as a wrong password does. The dummy is computed on first use (call [`Self::warm_up`]
    /// at startup so the first such login is not slower).
    ///
    /// # Errors
    /// As [`Self::verify`]: `Busy` must still become a 503, never a faster 401.
    pub async fn verify_dummy(&self, password: &Password) -> Result<(), PasswordError> {
        let dummy = self.dummy_hash().await?;
        self.verify(password, dummy).await.map(|_| ())
    }

    /// Computes the dummy hash now rather than at the first unknown-user login.
    ///
    /// # Errors
    /// As [`Self::hash`].
    pub async fn warm_up(&self) -> Result<(), PasswordError> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> Result<&PasswordHash, PasswordError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                // A buffer of its own, freed after: the pool keeps buffers only for real
                // logins, so an idle server does not hold Argon2's memory.
                let password = Password::random()?;
                self.hash_in(&password, Arc::new(Memory::default())).await
            })
            .await
    }

    /// Runs `work` on the blocking pool once a worker permit is held.
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.acquire().await?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            // The permit moves into the blocking task and is released only when Argon2 is
            // done, even if the caller's future was dropped: the semaphore bounds the CPU and
            // memory actually in use, not just the requests still waiting.
            let _permit = permit;
            span.in_scope(work)
        })
        .await
        .map_err(PasswordError::internal)
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        let permits = Arc::clone(&self.inner.permits);
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                self.observe_wait(Duration::ZERO);
                return Ok(permit);
            }
            Err(TryAcquireError::NoPermits) => {}
            Err(e @ TryAcquireError::Closed) => return Err(PasswordError::internal(e)),
        }
        // Every worker is busy: join the queue if there is room, else refuse at once.
        let _ticket = QueueTicket::take(&self.inner)?;
        let queued = Instant::now();
        let permit = permits
            .acquire_owned()
            .await
            .map_err(PasswordError::internal)?;
        self.observe_wait(queued.elapsed());
        Ok(permit)
    }

    fn observe_wait(&self, waited: Duration) {
        if let Some(observer) = self.inner.wait_observer.get() {
            observer(waited);
        }
    }

    /// Takes a worker permit directly, to make workers busy in tests deterministically.
    #[cfg(test)]
    pub(crate) fn occupy_worker(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.permits).try_acquire_owned().ok()
    }
}

/// A place in the wait queue, given back on drop (also when the waiting future is cancelled).
struct QueueTicket<'a> {
    waiting: &'a AtomicUsize,
}

impl<'a> QueueTicket<'a> {
    fn take(inner: &'a Inner) -> Result<Self, PasswordError> {
        inner
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.max_queue).then_some(n + 1)
            })
            .map_err(|_| PasswordError::Busy)?;
        Ok(Self {
            waiting: &inner.waiting,
        })
    }
}

impl Drop for QueueTicket<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

fn hash_blocking(
    params: PasswordParams,
    password: &[u8],
    memory: &Memory,
) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(PasswordError::internal)?;
    let salt_b64 = SaltString::encode_b64(&salt).map_err(PasswordError::internal)?;
    let params = params.to_argon2()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    memory.hash(&argon2, password, &salt, &mut output)?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(PasswordError::internal)?,
        salt: Some(salt_b64.as_salt()),
        hash: Some(Output::new(&output).map_err(PasswordError::internal)?),
    };
    Ok(phc.to_string())
}

fn verify_blocking(password: &[u8], phc: &str, memory: &Memory) -> Result<bool, PasswordError> {
    let invalid = |_: argon2::password_hash::Error| PasswordError::InvalidHash;
    let parsed = Phc::new(phc).map_err(invalid)?;
    // Algorithm, version and costs come from the PHC string.
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(invalid)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| PasswordError::InvalidHash)?
        .unwrap_or_default();
    let params = argon2::Params::try_from(&parsed).map_err(invalid)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(PasswordError::InvalidHash);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(invalid)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    memory.hash(&argon2, password, salt, &mut output)?;
    // password_hash::Output compares in constant time.
    Ok(Output::new(&output).map_err(PasswordError::internal)? == expected)
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("workers", &self.inner.workers)
            .field("max_queue", &self.inner.max_queue)
            .field("queue_depth", &self.queue_depth())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn password(s: &str) -> Password {
        Password::for_login(&SecretString::from(s)).expect("login-shaped password")
    }

    fn test_hasher() -> PasswordHasher {
        PasswordHasher::new(PasswordParams::danger_test_minimum(), 2, 8)
    }

    #[tokio::test]
    async fn hash_then_verify_with_the_same_password_is_valid() {
        let hasher = test_hasher();
        let hash = hasher
            .hash(&password("correct horse battery staple"))
            .await
            .expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));

        let outcome = hasher
            .verify(&password("correct horse battery staple"), &hash)
            .await
            .expect("verify");

        assert_eq!(
            outcome,
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    /// The reused-memory path writes and reads the same PHC strings as the argon2 crate's
    /// own hasher and verifier, so stored hashes from either keep working.
    #[test]
    fn phc_strings_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

        let params = PasswordParams::danger_test_minimum();
        let memory = Memory {
            buffers: std::sync::Mutex::new(Vec::new()),
            blocks: params.to_argon2().unwrap().block_count(),
        };
        let ours = hash_blocking(params, b"hunter2 hunter2", &memory).unwrap();
        let parsed = Phc::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"hunter2 hunter2", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"hunter3 hunter3", &parsed)
                .is_err()
        );

        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params.to_argon2().unwrap(),
        )
        .hash_password(b"hunter2 hunter2", &salt)
        .unwrap()
        .to_string();
        assert!(verify_blocking(b"hunter2 hunter2", &theirs, &memory).unwrap());
        assert!(!verify_blocking(b"hunter3 hunter3", &theirs, &memory).unwrap());
        assert_eq!(memory.lock().len(), 1, "one buffer, reused");
    }

    #[tokio::test]
    async fn saturation_is_busy_workers_and_a_full_queue() {
        let hasher = PasswordHasher::new(PasswordParams::danger_test_minimum(), 1, 0);
        assert!(!hasher.is_saturated());
        let _busy = hasher.occupy_worker().unwrap();
        assert!(hasher.is_saturated(), "one worker, busy, and no queue");
        assert!(matches!(
            hasher.hash(&password("a perfectly fine passphrase")).await,
            Err(PasswordError::Busy)
        ));
    }

    #[tokio::test]
    async fn wrong_password_is_invalid() {
        let hasher = test_hasher();
        let hash = hasher
            .hash(&password("correct horse battery staple"))
            .await
            .expect("hash");

        let outcome = hasher
            .verify(&password("correct horse battery stapler"), &hash)
            .await
            .expect("verify");

        assert_eq!(outcome, Verification::Invalid);
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let hasher = test_hasher();
        let a = hasher
            .hash(&password("same password!"))
            .await
            .expect("hash");
        let b = hasher
            .hash(&password("same password!"))
            .await
            .expect("hash");
        assert_ne!(a, b, "each hash has its own random salt");
    }

    #[tokio::test]
    async fn a_hash_made_with_old_params_needs_rehash() {
        // Hashed with the test minimum; the current hasher uses OWASP. Verification runs with
        // the hash's own (cheap) parameters, so this test stays fast.
        let old = test_hasher()
            .hash(&password("a long enough passphrase"))
            .await
            .expect("hash");
        let current = PasswordHasher::new(PasswordParams::OWASP, 1, 8);

        let outcome = current
            .verify(&password("a long enough passphrase"), &old)
            .await
            .expect("verify");

        assert_eq!(outcome, Verification::Valid { needs_rehash: true });
    }

    #[tokio::test]
    async fn verify_dummy_runs_a_real_verification_with_current_params() {
        let hasher = test_hasher();

        hasher
            .verify_dummy(&password("whatever the user typed"))
            .await
            .expect("dummy verify");
        let first = hasher.inner.dummy.get().expect("dummy computed").clone();
        hasher
            .verify_dummy(&password("another attempt"))
            .await
            .expect("dummy verify");

        let cost = first.cost().expect("cost");
        assert!(
            hasher
                .params()
                .matches(cost.m_cost_kib, cost.t_cost, cost.p_cost),
            "the dummy hash uses the current parameters"
        );
        assert_eq!(
            hasher.inner.dummy.get(),
            Some(&first),
            "the dummy is computed once"
        );
    }

    /// Starts a hash while the test holds the only worker, and waits until it is queued.
    async fn queue_one_hash(
        hasher: &PasswordHasher,
    ) -> tokio::task::JoinHandle<Result<PasswordHash, PasswordError>> {
        let waiter = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash(&password("queued password")).await }
        });
        let mut spins = 0;
        while hasher.queue_depth() < 1 {
            spins += 1;
            assert!(spins < 10_000, "the spawned hash never joined the queue");
            tokio::task::yield_now().await;
        }
        waiter
    }

    #[tokio::test]
    async fn a_full_queue_fails_at_once_with_busy() {
        // Arrange: one worker, held by the test; room for one waiter.
        let hasher = PasswordHasher::new(PasswordParams::danger_test_minimum(), 1, 1);
        let worker = hasher.occupy_worker().expect("the only worker is free");
        let waiter = queue_one_hash(&hasher).await;

        // Act: the queue is full, so the next caller is refused without waiting.
        let refused = hasher.hash(&password("one too many")).await;

        // Assert
        assert!(
            matches!(refused, Err(PasswordError::Busy)),
            "got {refused:?}"
        );
        assert_eq!(hasher.queue_depth(), 1, "the refused caller did not queue");
        drop(worker);
        let queued = waiter.await.expect("task").expect("queued hash completes");
        assert!(queued.as_str().starts_with("$argon2id$"));
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[tokio::test]
    async fn the_wait_observer_hears_each_wait_for_a_worker() {
        let hasher = PasswordHasher::new(PasswordParams::danger_test_minimum(), 1, 1);
        let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let heard = Arc::clone(&waits);
        assert!(hasher.set_wait_observer(Arc::new(move |d| heard.lock().unwrap().push(d))));
        assert!(
            !hasher.set_wait_observer(Arc::new(|_| {})),
            "only the first is kept"
        );
        let worker = hasher.occupy_worker().expect("the only worker is free");
        let waiter = queue_one_hash(&hasher).await;

        drop(worker);
        waiter.await.expect("task").expect("queued hash completes");
        hasher.hash(&password("a free worker")).await.expect("hash");

        let waits = waits.lock().unwrap().clone();
        assert_eq!(waits.len(), 2, "{waits:?}");
        assert!(
            waits[0] > Duration::ZERO,
            "the queued call waited: {waits:?}"
        );
        assert_eq!(waits[1], Duration::ZERO, "a free worker means no wait");
    }

    #[tokio::test]
    async fn with_no_queue_a_busy_worker_means_busy() {
        let hasher = PasswordHasher::new(PasswordParams::danger_test_minimum(), 1, 0);
        let _worker = hasher.occupy_worker().expect("the only worker is free");

        let refused = hasher.verify_dummy(&password("anything at all")).await;

        assert!(
            matches!(refused, Err(PasswordError::Busy)),
            "got {refused:?}"
        );
    }

    #[tokio::test]
    async fn production_owasp_params_hash_and_verify() {
        // The one test with real cost (19 MiB, 2 passes); everything else uses the minimum.
        let hasher = PasswordHasher::new(PasswordParams::OWASP, 1, 0);
        let hash = hasher
            .hash(&password("production strength passphrase"))
            .await
            .expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

        let right = hasher
            .verify(&password("production strength passphrase"), &hash)
            .await
            .expect("verify");
        let wrong = hasher
            .verify(&password("production strength passphrasf"), &hash)
            .await
            .expect("verify");

        assert_eq!(
            right,
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(wrong, Verification::Invalid);
    }
}
