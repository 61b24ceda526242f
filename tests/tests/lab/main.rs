//! Tests against the SSH lab (`dossier_tests::lab`): fake hosts running real OpenSSH in
//! namespaces, swept by the real `dossier` binary. They need root and sshd; without them they
//! print `skipped: <test>: <reason>` (under `CI` they fail).
//!
//! One test binary for all of them; filter by module: `smoke::` (the lab itself, with its
//! start-up times), `sweep::`, `shard::` (`sweep --shard` and `merge`), `s3::` (a sharded sweep into object storage, merged from it), `persist::` (every persistence family over SSH), `benign::`
//! (the benign lab host with live services), `signing::` (`sweep --sign`), `timestamp::`
//! (`sweep --tsa`), `encrypt::` (`sweep --encrypt-to`), `contain::` (containment over SSH), `contain_faults::` (its faults), `contain_systemd::` (the seed's
//! sequence on a host running systemd as PID 1), e.g.
//! `cargo test -p dossier-tests --test lab persist::`.
//!
//! Labs in one process never share a namespace, veth, address space or directory (names
//! carry the process id and a per-process counter), so they could run side by side; every
//! test here still takes [`dossier_tests::lab::serial`] first, so that one lab runs at a time:
//! each starts several hosts with their sshd on a two-core machine, and the sweep tests
//! assert timeouts and deadlines that a second lab starting beside them would make flaky.

// Tests may be long: the function-size limit of ARCHITECTURE.md is for code outside tests.
#![allow(clippy::too_many_lines)]

mod benign;
mod contain;
mod contain_faults;
mod contain_systemd;
mod encrypt;
mod persist;
mod s3;
mod shard;
mod signing;
mod smoke;
mod sweep;
mod timestamp;
