//! Limits on what a target, a network, an inventory range or a hosts file may name.

/// Largest network (in addresses) a target may name, and the most hosts one inventory range or
/// one hosts file may produce.
pub const MAX_ADDRESSES: u64 = 65_536;

/// Longest target accepted, in bytes.
pub const MAX_TARGET_LEN: usize = 512;

/// Longest line accepted in a hosts file, in bytes.
pub const MAX_LINE_LEN: usize = 8192;

/// Largest hosts file [`load_hosts_file`](super::load_hosts_file) reads, in bytes.
pub const MAX_HOSTS_FILE: u64 = 16 << 20;

/// Longest user name accepted.
pub(super) const MAX_USER_LEN: usize = 32;

/// How much of a hostile input an error message repeats.
pub(super) const MAX_SHOWN: usize = 80;
