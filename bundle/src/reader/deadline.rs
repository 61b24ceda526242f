//! The time bound of verifying one bundle ([`Limits::time_base`](super::Limits::time_base)
//! and [`Limits::time_per_gib`](super::Limits::time_per_gib)): members are inflated through
//! [`Deadline::reader`], which fails once the deadline has passed, so a small bundle that
//! inflates to tens of GiB stops with "took too long" instead of running for minutes.

use super::limits::Limits;
use std::io::Read;
use std::time::{Duration, Instant};

/// When verifying one bundle must stop, and how long that allowed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline {
    at: Option<Instant>,
    allowed: Duration,
}

impl Deadline {
    /// The deadline of a bundle file of `size` bytes whose verification started at `start`.
    pub(super) fn of(limits: &Limits, start: Instant, size: u64) -> Deadline {
        let at = limits.deadline(start, size);
        Deadline {
            at,
            allowed: at.map_or(Duration::MAX, |at| at - start),
        }
    }

    /// No deadline (reading members of a bundle already verified).
    pub(super) fn none() -> Deadline {
        Deadline {
            at: None,
            allowed: Duration::MAX,
        }
    }

    /// Whether the deadline has passed.
    pub(super) fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Why reading stopped, for a problem of the bundle.
    pub(super) fn message(&self) -> String {
        format!(
            "took too long: verifying this bundle may take {:.1} s (limit), stopped there",
            self.allowed.as_secs_f64()
        )
    }

    /// `inner`, failing reads once the deadline has passed.
    pub(super) fn reader<R: Read>(self, inner: R) -> Timed<R> {
        Timed {
            inner,
            deadline: self,
        }
    }
}

/// A reader that fails once its [`Deadline`] has passed.
pub(super) struct Timed<R> {
    inner: R,
    deadline: Deadline,
}

impl<R: Read> Read for Timed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.deadline.passed() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                self.deadline.message(),
            ));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_once_the_deadline_has_passed() {
        let past = Deadline {
            at: Some(Instant::now()),
            allowed: Duration::from_millis(1500),
        };
        let mut out = Vec::new();
        let e = past.reader(&b"data"[..]).read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("took too long") && e.to_string().contains("1.5 s"));
        let mut out = Vec::new();
        Deadline::none()
            .reader(&b"data"[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"data");
    }
}
