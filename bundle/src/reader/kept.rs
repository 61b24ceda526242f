//! Member content kept from verification for analysis, within budgets.

use super::limits::Limits;
use std::collections::HashMap;

/// Member content verified during [`verify_keeping`](super::verify::verify_keeping) and kept
/// for analysis, so it is neither decompressed nor hashed a second time: the records members
/// (within [`Limits::max_record_bytes`]) and small members (each at most [`KEEP_MEMBER`] bytes,
/// at most [`KEEP_SMALL`] bytes together), each kept only once its SHA-256 matched the
/// manifest.
///
/// Members the caller streams itself once the bundle is open ([`Bundle::open_streaming`]:
/// imported events, gigabytes) and that are too large to keep are not inflated and hashed
/// during verification, only after their declared sizes were checked: they are *deferred*,
/// and checked as they are read (see [`Bundle::member_lines`] and
/// [`Bundle::verify_deferred`]), so that they are inflated once, not twice.
///
/// [`Bundle::open_streaming`]: super::Bundle::open_streaming
/// [`Bundle::member_lines`]: super::Bundle::member_lines
/// [`Bundle::verify_deferred`]: super::Bundle::verify_deferred
#[derive(Default)]
pub(super) struct Kept {
    pub(super) members: HashMap<String, Vec<u8>>,
    records_left: u64,
    small_left: u64,
    /// The members the caller streams (deferred when not kept).
    streamed: Vec<String>,
    /// The members deferred.
    pub(super) deferred: Vec<String>,
    /// Streamed members larger than this are deferred.
    pub(super) defer_above: u64,
    /// Whether any other member larger than that is deferred too, to be checked on a thread
    /// of its own ([`Bundle::spawn_deferred`](super::Bundle::spawn_deferred)) through
    /// `reopen` (a plain bundle only).
    defer_large: bool,
    /// A second reader of the bundle's bytes (the same open file, read at its own offset, or
    /// the bytes in memory); None for an encrypted bundle.
    pub(super) reopen: Option<super::source::Source>,
}

/// Largest member other than records kept from verification (executable copies read by the
/// miner-string scan, raw copies of units and scripts).
const KEEP_MEMBER: u64 = 1 << 20;
/// Largest records member kept (a large server's triage records are a few tens of MB).
const KEEP_RECORDS_MEMBER: u64 = 64 << 20;
/// Most bytes of such members kept per bundle.
const KEEP_SMALL: u64 = 16 << 20;

impl Kept {
    pub(super) fn new(limits: &Limits) -> Kept {
        Kept {
            members: HashMap::new(),
            records_left: limits.max_record_bytes,
            small_left: KEEP_SMALL,
            streamed: Vec::new(),
            deferred: Vec::new(),
            defer_above: KEEP_RECORDS_MEMBER,
            defer_large: false,
            reopen: None,
        }
    }

    /// Also defers the checks of `streamed` members that will not be kept, and (when there
    /// are any) of every other member too large to keep.
    pub(super) fn streaming(mut self, streamed: &[&str]) -> Kept {
        self.streamed = streamed.iter().map(|s| s.to_string()).collect();
        self.defer_large = !streamed.is_empty();
        self
    }

    /// Defers nothing in a bundle whose manifest lists none of the streamed members: such a
    /// bundle is verified whole, as any.
    pub(super) fn for_manifest(&mut self, manifest: &crate::manifest::Manifest) {
        let streams = manifest
            .members
            .iter()
            .any(|m| self.streamed.contains(&m.name));
        if !streams {
            self.streamed.clear();
            self.defer_large = false;
        }
    }

    /// Whether the member `name` of `size` bytes is deferred (the caller streams it and it
    /// is too large to keep); if so it is noted as deferred. Asked before [`Kept::take_budget`].
    pub(super) fn defers(&mut self, name: &str, size: u64) -> bool {
        let deferred = size > self.defer_above
            && (self.streamed.iter().any(|s| s == name)
                || (self.defer_large && self.reopen.is_some()));
        if deferred {
            self.deferred.push(name.to_string());
        }
        deferred
    }

    /// Whether to keep the content of a member of `size` bytes, charging it to its budget.
    pub(super) fn take_budget(&mut self, name: &str, size: u64) -> bool {
        let budget = if name.starts_with("records/") && name.ends_with(".jsonl") {
            if size > KEEP_RECORDS_MEMBER {
                // Read again when needed: records of imported events are streamed line by
                // line, and holding a gigabyte export's events for that would make memory
                // grow with the input.
                return false;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kept_within_budget_but_not_a_member_too_big_to_hold() {
        let mut k = Kept::new(&Limits::default());
        assert!(k.take_budget("records/units.jsonl", 10 << 20));
        assert!(!k.take_budget("records/events.jsonl", KEEP_RECORDS_MEMBER + 1));
        assert!(k.take_budget("records/processes.jsonl", KEEP_RECORDS_MEMBER));
        assert!(k.take_budget("raw/etc/passwd", 4096));
        assert!(!k.take_budget("raw/usr/bin/big", KEEP_MEMBER + 1));
    }
}
