//! Why a bundle could not be opened, or one of its members or records read.

use super::outcome::Problem;
use std::path::PathBuf;

/// Why a bundle could not be opened for analysis.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: verification failed:\n{}", problems.iter().map(|p| format!("  - {}: {}", p.subject, p.message)).collect::<Vec<_>>().join("\n"))]
    Unverified {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    /// An encrypted bundle and no identity to decrypt it.
    #[error("{path}: encrypted bundle, and no --identity given to decrypt it: not analyzed")]
    Encrypted { path: PathBuf },
}

/// Why a member, or the records of a collector, could not be read from an opened bundle.
/// Each message starts with the member name.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("{name}: not in the manifest")]
    NotListed { name: String },
    #[error("{name}: {size} bytes, more than the {cap}-byte limit")]
    TooLarge { name: String, size: u64, cap: u64 },
    /// Listed in the manifest but not in the zip (verification refuses such a bundle).
    #[error("{name}: missing")]
    Missing { name: String },
    /// The zip entry could not be read or decompressed.
    #[error("{name}: {message}")]
    Read { name: String, message: String },
    #[error("{name}: SHA-256 differs from the manifest")]
    Hash { name: String },
    /// A records member larger than the bytes of records left to load.
    #[error(
        "{name}: {size} bytes, more than the {cap} bytes of records left to load (limit); not analyzed"
    )]
    RecordBytes { name: String, size: u64, cap: u64 },
    /// A records member with more JSON values than are left to load.
    #[error(
        "{name}: more than the {left} JSON values of records left to load (limit) by line {line}; not analyzed"
    )]
    RecordValues {
        name: String,
        left: u64,
        line: usize,
    },
    /// A record line longer than the limit.
    #[error("{name}: line {line} is longer than {max} bytes (limit); not analyzed")]
    LineTooLong {
        name: String,
        line: usize,
        max: usize,
    },
    /// The streamed records member's size or SHA-256 differs from the manifest.
    #[error("{name}: content differs from the manifest")]
    Content { name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Member errors end up in reports: their text is the one the reader always wrote.
    #[test]
    fn member_errors_read_as_before() {
        let n = || "records/proc.jsonl".to_string();
        let cases = [
            (
                MemberError::NotListed { name: n() },
                "records/proc.jsonl: not in the manifest",
            ),
            (
                MemberError::TooLarge {
                    name: n(),
                    size: 9,
                    cap: 2,
                },
                "records/proc.jsonl: 9 bytes, more than the 2-byte limit",
            ),
            (
                MemberError::RecordBytes {
                    name: n(),
                    size: 9,
                    cap: 2,
                },
                "records/proc.jsonl: 9 bytes, more than the 2 bytes of records left to load (limit); not analyzed",
            ),
            (
                MemberError::RecordValues {
                    name: n(),
                    left: 5,
                    line: 3,
                },
                "records/proc.jsonl: more than the 5 JSON values of records left to load (limit) by line 3; not analyzed",
            ),
            (
                MemberError::LineTooLong {
                    name: n(),
                    line: 4,
                    max: 16 << 20,
                },
                "records/proc.jsonl: line 4 is longer than 16777216 bytes (limit); not analyzed",
            ),
            (
                MemberError::Content { name: n() },
                "records/proc.jsonl: content differs from the manifest",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
