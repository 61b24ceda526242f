//! dossier's remote transport: how the orchestrator reaches a machine that is not the one it
//! runs on.
//!
//! - [`ssh`]: [`ssh::SshHost`], the [`dossier_plugin_api::host::Host`] of a machine reached
//!   over SSH (libssh2 through `ssh2`), with strict host-key checking against known_hosts,
//!   authentication, timeouts and a watchdog handle, and files read over SFTP;
//! - [`sftp_client`]: a minimal read-only SFTP v3 client with pipelined requests, on the
//!   login's `sftp` subsystem or, to read as root, on `sudo -n sftp-server -R` (`--sudo`);
//! - [`ssh_config`]: the user's OpenSSH client configuration (`~/.ssh/config`);
//! - [`targets`]: what a sweep connects to: host lists, Ansible inventories, CIDR networks;
//! - [`actuate`]: [`actuate::SshActuator`], containment's `Actuator` over the same transport
//!   (commands as root or through `sudo -n`, with standard input and exit status).
//!
//! The crate depends on the plugin contract (for `Host`) and on `dossier-contain` (for
//! `Actuator`), never on the command line.
//!
//! Where new code goes: remote actions (containment: things done *to* a remote host rather
//! than read from it) belong in this crate, in a module of their own next to [`ssh`] (e.g.
//! `src/actions/`), using the connection `ssh::connect` gives. Keep them out of `ssh::host`:
//! the `Host` implementation is what collection uses, and collection never writes to a
//! target.

#![forbid(unsafe_code)]

pub mod actuate;
pub mod sftp_client;
pub mod ssh;
pub mod ssh_config;
pub mod targets;
