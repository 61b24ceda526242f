//! Limits on what a configuration may make dossier read and keep.

/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Deepest `Include` nesting (OpenSSH's limit).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Most files read for one configuration (the main file and all includes).
pub(super) const MAX_FILES: usize = 256;

/// Most identity files per host (OpenSSH's limit).
pub(super) const MAX_IDENTITY_FILES: usize = 100;
