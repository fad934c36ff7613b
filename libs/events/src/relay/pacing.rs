//! When the relay runs its next pass: at once after a pass that published, after
//! `idle_poll` when there was nothing to send, and after a growing back-off (0.2, 0.4,
//! 0.8 s … up to `max_backoff`) while passes fail. Kept apart from the database and
//! the broker so paused time can drive it in tests.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use super::PassOutcome;

/// The back-off after `attempts` failures: 0.1 s × 2^attempts, at most `max`.
pub(crate) fn backoff(attempts: i32, max: Duration) -> Duration {
    let exp = attempts.clamp(0, 16) as u32;
    (Duration::from_millis(100) * 2u32.saturating_pow(exp)).min(max)
}

/// The pause after each pass, given how the passes went.
#[derive(Debug, Clone)]
pub(crate) struct Pacing {
    idle_poll: Duration,
    max_backoff: Duration,
    /// Failed passes in a row.
    errors: i32,
}

impl Pacing {
    pub fn new(idle_poll: Duration, max_backoff: Duration) -> Self {
        Pacing {
            idle_poll,
            max_backoff,
            errors: 0,
        }
    }

    /// The pause after a pass that ended with `outcome`.
    pub fn after<E: Display>(&mut self, outcome: &Result<PassOutcome, E>) -> Duration {
        match outcome {
            Ok(outcome) if outcome.failed > 0 => self.failed(),
            Ok(outcome) if outcome.published > 0 => {
                self.errors = 0;
                Duration::ZERO
            }
            Ok(_) => {
                self.errors = 0;
                self.idle_poll
            }
            Err(err) => {
                tracing::warn!(%err, "outbox relay pass failed");
                self.failed()
            }
        }
    }

    fn failed(&mut self) -> Duration {
        self.errors = self.errors.saturating_add(1);
        backoff(self.errors, self.max_backoff)
    }
}

/// Runs `pass` again and again, paced by `pacing`, until `shutdown` completes.
pub(crate) async fn run_paced<F, Fut, E>(
    mut pass: F,
    mut pacing: Pacing,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PassOutcome, E>>,
    E: Display,
{
    tokio::pin!(shutdown);
    loop {
        let pause = pacing.after(&pass().await);
        tokio::select! {
            // Shutdown first: a relay told to stop does not start another pass.
            biased;
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use tokio::time::Instant;

    const IDLE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    fn published(n: usize) -> Result<PassOutcome, String> {
        Ok(PassOutcome {
            published: n,
            failed: 0,
        })
    }

    fn rows_failed(n: usize) -> Result<PassOutcome, String> {
        Ok(PassOutcome {
            published: 0,
            failed: n,
        })
    }

    #[test]
    fn the_row_backoff_doubles_up_to_the_cap() {
        let ms = |attempts| backoff(attempts, Duration::from_secs(10)).as_millis();
        assert_eq!(
            (0..8).map(ms).collect::<Vec<_>>(),
            vec![100, 200, 400, 800, 1600, 3200, 6400, 10_000]
        );
        assert_eq!(ms(-3), 100, "a negative count is the first attempt");
        assert_eq!(ms(i32::MAX), 10_000, "no overflow");
    }

    /// Runs `script` (one outcome per pass) through `run_paced` on paused time and
    /// returns when each pass started, in ms since the first.
    async fn pass_times(script: Vec<Result<PassOutcome, String>>) -> Vec<u128> {
        let passes = script.len();
        let script = RefCell::new(VecDeque::from(script));
        let started = RefCell::new(Vec::new());
        let done = tokio::sync::Notify::new();
        let start = Instant::now();
        run_paced(
            || {
                started.borrow_mut().push(start.elapsed().as_millis());
                let outcome = script.borrow_mut().pop_front().expect("scripted");
                if script.borrow().is_empty() {
                    done.notify_one();
                }
                async move { outcome }
            },
            Pacing::new(IDLE, MAX),
            done.notified(),
        )
        .await;
        let started = started.into_inner();
        assert_eq!(started.len(), passes, "every scripted pass ran, no more");
        started
    }

    #[tokio::test(start_paused = true)]
    async fn failing_passes_back_off_up_to_the_cap_and_success_resets_it() {
        let times = pass_times(vec![
            Err("database away".into()),
            Err("database away".into()),
            rows_failed(3),
            Err("database away".into()),
            Err("database away".into()), // capped at MAX from here
            published(10),               // resets, and goes again at once
            published(0),                // nothing to send: idle poll
            rows_failed(1),              // a fresh run of failures starts low again
            published(1),
        ])
        .await;
        let gaps: Vec<u128> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, vec![200, 400, 800, 1000, 1000, 0, 100, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_a_relay_waiting_out_its_back_off() {
        let start = Instant::now();
        let mut passes = 0;
        run_paced(
            || {
                passes += 1;
                async { Err::<PassOutcome, _>("broker away") }
            },
            Pacing::new(IDLE, Duration::from_secs(3600)),
            tokio::time::sleep(Duration::from_secs(5)),
        )
        .await;
        assert_eq!(start.elapsed(), Duration::from_secs(5), "not the back-off");
        // 0, 0.2, 0.6, 1.4, 3.0 s; the next (at 6.2 s) is after the shutdown.
        assert_eq!(passes, 5);
    }
}
