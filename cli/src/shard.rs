//! Sharded sweeps: `dossier sweep --shard K/N` collects only the targets whose shard is `K`,
//! so that `N` sweeps (pods of a Kubernetes Indexed Job, tasks of a Slurm job array) share a
//! fleet without overlap, and what `sweep.json` records of it.
//!
//! A target's shard is a pure function of the target alone: the first 8 bytes of the SHA-256
//! of its normalized key ([`key`]: `host:port`, the host in lower case without a trailing
//! dot, an IP address in canonical form, IPv6 in brackets), read big-endian, modulo `N`. Not
//! std's hasher, which is seeded per process: every shard, on any machine, with any version
//! of the host list, puts a host in the same shard, so shards never overlap, their union is
//! every target, and adding or removing other hosts never moves a host. The login user is not
//! part of the key (who logs in does not change which machine it is).
//!
//! `K` counts from 0, as `$JOB_COMPLETION_INDEX` does (`0..N-1`); a Slurm array written
//! `--array=0-3` gives the same numbers in `$SLURM_ARRAY_TASK_ID`. `K` must be below `N`: a
//! 1-based array (`--array=1-4`) is refused, not silently shifted.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The largest number of shards accepted.
pub const MAX_SHARDS: u32 = 100_000;

/// One shard of `count`: the targets whose [`shard_of`] is `index` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a `--shard` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?}: expected K/N, e.g. 0/4 (K counts from 0, as $JOB_COMPLETION_INDEX does)")]
    Syntax(String),
    #[error("{0:?}: N must be between 1 and {MAX_SHARDS}")]
    Count(String),
    #[error(
        "{given:?}: K counts from 0 and must be below N (0..{last}); with a 1-based Slurm array \
         (--array=1-{count}) pass $((SLURM_ARRAY_TASK_ID - 1)), or write --array=0-{last}"
    )]
    Index {
        given: String,
        count: u32,
        last: u32,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(k) || !digits(n) {
            return Err(syntax());
        }
        let count: u32 = n.parse().map_err(|_| ShardError::Count(s.to_string()))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(s.to_string()));
        }
        let index_error = || ShardError::Index {
            given: s.to_string(),
            count,
            last: count - 1,
        };
        let index: u32 = k.parse().map_err(|_| index_error())?;
        if index >= count {
            return Err(index_error());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the target of this key ([`key`]) is in this shard.
    pub fn takes(&self, key: &str) -> bool {
        shard_of(key, self.count) == self.index
    }
}

/// The normalized key of a target: `host:port`, the host in lower case without brackets or
/// a trailing dot, an IP address in canonical form (`[v6]:port` for IPv6).
pub fn key(host: &str, port: u16) -> String {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    let h = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        Ok(a) => format!("{a}:{port}"),
        Err(_) => format!("{h}:{port}"),
    }
}

/// The shard (`0..count`) of a target key: the first 8 bytes of its SHA-256, big-endian,
/// modulo `count` (`count` > 0).
pub fn shard_of(key: &str, count: u32) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

/// What `sweep.json` records of a sharded sweep: which shard, and how many targets it kept
/// of how many (hosts, addresses of networks and refused entries, before any connection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// 0-based.
    pub index: u32,
    pub count: u32,
    pub kept: usize,
    pub of: usize,
}

/// Counts what a shard keeps while its targets are filtered.
#[derive(Clone, Copy, Debug)]
pub struct Tally {
    pub shard: Shard,
    pub kept: usize,
    pub of: usize,
}

impl Tally {
    /// A tally for `shard` (none kept yet).
    pub fn new(shard: Shard) -> Self {
        Tally {
            shard,
            kept: 0,
            of: 0,
        }
    }

    /// Whether the target of `key` is kept, counted.
    pub fn keep(&mut self, key: &str) -> bool {
        self.of += 1;
        let kept = self.shard.takes(key);
        self.kept += usize::from(kept);
        kept
    }

    /// The record for `sweep.json`.
    pub fn record(&self) -> ShardRecord {
        ShardRecord {
            index: self.shard.index,
            count: self.shard.count,
            kept: self.kept,
            of: self.of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize, prefix: &str) -> Vec<String> {
        (0..n)
            .map(|i| key(&format!("{prefix}{i}.corp"), 22))
            .collect()
    }

    #[test]
    fn parses_zero_based_shards_and_explains_refusals() {
        assert_eq!(
            "0/4".parse::<Shard>().unwrap(),
            Shard { index: 0, count: 4 }
        );
        assert_eq!("3/4".parse::<Shard>().unwrap().to_string(), "3/4");
        assert_eq!("0/1".parse::<Shard>().unwrap().count, 1);
        let e = "4/4".parse::<Shard>().unwrap_err().to_string();
        assert!(
            e.contains("K counts from 0") && e.contains("0..3") && e.contains("--array=0-3"),
            "{e}"
        );
        for bad in [
            "", "1", "a/4", "1/b", "-1/4", "1/-4", "1/4/5", "+1/4", " /4",
        ] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!("0/0".parse::<Shard>(), Err(ShardError::Count(_))));
        assert!(matches!(
            "0/100001".parse::<Shard>(),
            Err(ShardError::Count(_))
        ));
        assert!(matches!(
            "0/99999999999999999999".parse::<Shard>(),
            Err(ShardError::Count(_))
        ));
    }

    #[test]
    fn keys_are_normalized() {
        assert_eq!(key("Web1.Corp.", 22), "web1.corp:22");
        assert_eq!(key("10.0.0.5", 2222), "10.0.0.5:2222");
        assert_eq!(key("[2001:DB8:0:0::1]", 22), "[2001:db8::1]:22");
        assert_eq!(key("2001:db8::1", 22), key("[2001:0db8::0001]", 22));
        assert_ne!(key("web1", 22), key("web1", 2222));
    }

    #[test]
    fn the_shard_function_is_fixed_sha256_not_a_seeded_hasher() {
        // Pinned, so that a change of the function (which would move hosts between the shards
        // of sweeps already running) fails here: SHA-256("a:22") begins
        // 0x4352749dbc771d93, which is 3 modulo 4.
        let digest = Sha256::digest(b"web1.corp:22");
        let first = u64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(shard_of("web1.corp:22", 7), (first % 7) as u32);
        assert_eq!(shard_of("web1.corp:22", 1), 0);
        let pinned: Vec<u32> = [
            "a:22", "b:22", "c:22", "d:22", "e:22", "f:22", "g:22", "h:22",
        ]
        .iter()
        .map(|k| shard_of(k, 4))
        .collect();
        assert_eq!(pinned, PINNED);
    }

    /// Shards of `a:22`..`h:22` of 4, as computed once (`sha256sum` and Python agree).
    const PINNED: [u32; 8] = [3, 3, 1, 1, 0, 1, 3, 0];

    #[test]
    fn shards_never_overlap_and_cover_every_target() {
        let all = names(1000, "host");
        for count in [1u32, 2, 3, 4, 7, 16] {
            let mut seen = vec![0u32; all.len()];
            for index in 0..count {
                let s = Shard { index, count };
                for (i, k) in all.iter().enumerate() {
                    if s.takes(k) {
                        seen[i] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "count {count}");
        }
    }

    #[test]
    fn a_host_stays_in_its_shard_when_the_list_changes() {
        let before = names(500, "web");
        let mut after = names(300, "web");
        after.extend(names(400, "db"));
        after.reverse();
        for k in before.iter().filter(|k| after.contains(k)) {
            let alone = shard_of(k, 4);
            let listed: Vec<u32> = (0..4)
                .filter(|&i| Shard { index: i, count: 4 }.takes(k))
                .collect();
            assert_eq!(listed, [alone]);
        }
        // The shard of a key is computed from the key alone: filtering two different lists
        // keeps exactly the common hosts of that shard in both.
        let s = Shard { index: 2, count: 4 };
        let in_before: Vec<&String> = before.iter().filter(|k| s.takes(k)).collect();
        let in_after: Vec<&String> = after.iter().filter(|k| s.takes(k)).collect();
        for k in &in_before {
            assert_eq!(after.contains(k), in_after.contains(k));
        }
    }

    #[test]
    fn a_thousand_names_spread_roughly_evenly() {
        let all = names(1000, "node-");
        for count in [2u32, 4, 10] {
            let mut per = vec![0usize; count as usize];
            for k in &all {
                per[shard_of(k, count) as usize] += 1;
            }
            let even = 1000 / count as usize;
            // Binomial spread: within 25% of even for these sizes (about 4 standard
            // deviations at N = 10).
            for n in &per {
                assert!(n.abs_diff(even) * 4 <= even, "count {count}: {per:?}");
            }
        }
    }

    #[test]
    fn the_tally_counts_kept_of_all() {
        let mut t = Tally::new(Shard { index: 1, count: 2 });
        let all = names(100, "x");
        let kept = all.iter().filter(|k| t.keep(k)).count();
        let r = t.record();
        assert_eq!((r.index, r.count, r.kept, r.of), (1, 2, kept, 100));
        assert!(kept > 0 && kept < 100);
    }
}
