//! Limits applied to untrusted bundles: what verification and analysis may read and hold,
//! and how long verification may take.

use std::time::{Duration, Instant};

/// Limits for untrusted bundles.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest manifest read (it is held in memory and parsed whole).
    pub max_manifest: u64,
    /// Most entries in the zip.
    pub max_entries: usize,
    /// Most bytes decompressed over all members.
    pub max_total: u64,
    /// Most bytes of records loaded for analysis from one bundle (all collectors together).
    pub max_record_bytes: u64,
    /// Most JSON values (counted from the text, an upper bound) loaded for analysis from one
    /// bundle: bounds memory whatever shape the records have (`[0,0,0,...]` costs 32 bytes of
    /// memory per 2 bytes of text).
    pub max_record_values: u64,
    /// Most time verifying one bundle may take (reading, inflating and hashing its members),
    /// with [`Limits::time_per_gib`]: inflating stops at `time_base` plus `time_per_gib` for
    /// each GiB of the bundle file, and the bundle fails with "took too long". The memory
    /// bounds alone let a small bundle force minutes of inflating at ratios deflate can reach.
    pub time_base: Duration,
    /// Time allowed per GiB of bundle file, on top of [`Limits::time_base`].
    pub time_per_gib: Duration,
}

impl Limits {
    /// The deadline for verifying a bundle file of `size` bytes whose verification starts at
    /// `start` (`None`: later than any clock can say).
    pub fn deadline(&self, start: Instant, size: u64) -> Option<Instant> {
        let per_byte = self.time_per_gib.as_secs_f64() / f64::from(1u32 << 30);
        let allowed = self
            .time_base
            .checked_add(Duration::try_from_secs_f64(per_byte * size as f64).ok()?)?;
        start.checked_add(allowed)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A manifest lists ~300 bytes per member: 64 MiB is some 200,000 members.
            max_manifest: 64 << 20,
            max_entries: 2_000_000,
            max_total: 64 << 30,
            // A large server's records are a few tens of MB and well under a million values.
            max_record_bytes: 128 << 20,
            max_record_values: 2_000_000,
            // Verifying runs at hundreds of MB/s: a 1 GiB bundle gets 2.5 minutes, a bundle of
            // a few MB half a minute, whatever it inflates to.
            time_base: Duration::from_secs(30),
            time_per_gib: Duration::from_secs(120),
        }
    }
}
