//! Member content kept from verification for analysis, within budgets.

use super::limits::Limits;
use std::collections::HashMap;

/// Member content verified during [`verify_keeping`](super::verify::verify_keeping) and kept
/// for analysis, so it is neither decompressed nor hashed a second time: the records members
/// (within [`Limits::max_record_bytes`]) and small members (each at most [`KEEP_MEMBER`] bytes,
/// at most [`KEEP_SMALL`] bytes together), each kept only once its SHA-256 matched the
/// manifest.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) members: HashMap<String, Vec<u8>>,
    records_left: u64,
    small_left: u64,
}

/// Largest member other than records kept from verification (executable copies read by the
/// miner-string scan, raw copies of units and scripts).
const KEEP_MEMBER: u64 = 1 << 20;
/// Most bytes of such members kept per bundle.
const KEEP_SMALL: u64 = 16 << 20;

impl Kept {
    pub(super) fn new(limits: &Limits) -> Kept {
        Kept {
            members: HashMap::new(),
            records_left: limits.max_record_bytes,
            small_left: KEEP_SMALL,
        }
    }

    /// Whether to keep the content of a member of `size` bytes, charging it to its budget.
    pub(super) fn take_budget(&mut self, name: &str, size: u64) -> bool {
        let budget = if name.starts_with("records/") && name.ends_with(".jsonl") {
            &mut self.records_left
        } else if size <= KEEP_MEMBER {
            &mut self.small_left
        } else {
            return false;
        };
        if size > *budget {
            return false;
        }
        *budget -= size;
        true
    }
}
