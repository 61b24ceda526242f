//! Limits applied to untrusted bundles: what verification and analysis may read and hold.

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
        }
    }
}
