//! Zip options of a member: compression method and level by size and content, permissions,
//! modification time.

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// Members at least this large are compressed at level 1 (throughput over ratio).
const FAST_THRESHOLD: u64 = 1 << 20;

/// Options for a member of about `size_hint` bytes starting with `sample`, modified at `mtime`
/// (Unix seconds): stored when the sample looks incompressible, deflated otherwise.
pub(super) fn member_options(
    size_hint: u64,
    sample: &[u8],
    mtime: Option<i64>,
) -> SimpleFileOptions {
    let mut o = SimpleFileOptions::default()
        .unix_permissions(0o600)
        .large_file(size_hint >= u32::MAX as u64);
    if looks_incompressible(sample) {
        o = o.compression_method(CompressionMethod::Stored);
    } else {
        let level = if size_hint >= FAST_THRESHOLD { 1 } else { 6 };
        o = o
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(level));
    }
    if let Some(t) = mtime.and_then(zip_time) {
        o = o.last_modified_time(t);
    }
    o
}

/// Whether a sample looks already compressed or random (Shannon entropy above 7.5 bits/byte),
/// so deflating it would cost time for nothing.
fn looks_incompressible(sample: &[u8]) -> bool {
    if sample.len() < 4096 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[b as usize] += 1;
    }
    let n = sample.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.5
}

fn zip_time(unix: i64) -> Option<zip::DateTime> {
    let dt = chrono::DateTime::from_timestamp(unix, 0)?;
    use chrono::{Datelike, Timelike};
    zip::DateTime::from_date_and_time(
        dt.year().try_into().ok()?,
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_heuristic() {
        assert!(!looks_incompressible(&vec![b'a'; 8192]));
        let text: Vec<u8> = (0..8192u32)
            .map(|i| b"the quick brown fox "[i as usize % 20])
            .collect();
        assert!(!looks_incompressible(&text));
        let mut x = 0x1234_5678u32;
        let random: Vec<u8> = (0..8192)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(looks_incompressible(&random));
    }

    #[test]
    fn zip_times() {
        assert!(zip_time(1_700_000_000).is_some());
        assert!(zip_time(0).is_none());
    }
}
