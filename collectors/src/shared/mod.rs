//! What several collectors consult about a host, one layer below them: the package database
//! ([`pkgdb`]) and the boot time ([`boot`]). Collectors depend on this module and on
//! [`crate::util`], never on one another; this module depends only on `util` and the plugin API.

pub mod boot;
pub mod pkgdb;
