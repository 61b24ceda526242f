//! What several collectors consult about a host, one layer below them: the package database
//! ([`pkgdb`]), the digests of the files read so far ([`filedigest`], so that a file several
//! collectors hash is read once), the boot time ([`boot`]) and SSH key and sshd_config
//! parsing ([`sshkeys`]), and files about to be captured read together ([`ahead`]). Collectors depend on this module and on
//! [`crate::util`], never on one another; this module depends only on `util` and the plugin API.

pub mod ahead;
pub mod boot;
pub mod filedigest;
pub mod pkgdb;
pub mod sshkeys;
