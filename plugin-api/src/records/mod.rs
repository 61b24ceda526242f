//! Normalized records: what built-in collectors write to `records/<collector>.jsonl` and what
//! analyzers read back. One JSON object per line, tagged by `kind`.
//!
//! Every record that comes from a file carries a [`SourceRef`]: the path on the host and the
//! bundle member (with its SHA-256) holding the verbatim copy, so any conclusion drawn from a
//! record can be traced to hashed evidence. Byte strings (paths, argv) are record text as
//! defined in [`crate::encoding`].
//!
//! The record types live in one module per area of the host ([`accounts`], [`scheduled`],
//! [`ssh`], ...) and are all re-exported here; [`Record`] is the tagged union of them and
//! [`parse_record`] reads one line of a records member.

pub mod accounts;
pub mod packages;
pub mod persistence;
pub mod runtime;
pub mod scheduled;
pub mod source;
pub mod ssh;
pub mod system;
pub mod traces;

pub use accounts::{AccountRecord, GroupRecord, LoginShells, ShadowFileRecord, SudoRule};
pub use packages::{Diversion, PackageFiles, PackageRecord, PackageVerify};
pub use persistence::{
    FileCapabilities, HookRecord, LdPreloadRecord, LdSoConfRecord, LocalBinRecord,
    PrivilegedFileRecord,
};
pub use runtime::{ProcessRecord, SocketRecord};
pub use scheduled::{
    AtJob, CronEntry, CronScript, GeneratorRecord, LingerRecord, TimerSpec, UnitRecord,
};
pub use source::SourceRef;
pub use ssh::{
    AuthorizedKeyRecord, AuthorizedKeysFileRecord, SshdConfigRecord, SshdMatchBlock, SshdSetting,
};
pub use system::{
    HostFacts, KernelModuleRecord, KernelTaintRecord, ModuleConfigRecord, NetInterfaceRecord,
};
pub use traces::{HistoryFileRecord, LastlogRecord, LogFileRecord, LoginRecord};

use serde::{Deserialize, Serialize};

/// Every record kind built-in collectors produce.
// Records are parsed and matched one at a time, never stored in bulk as `Record`, so the size
// of the largest variant costs nothing worth an extra allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    HostFacts(HostFacts),
    Unit(UnitRecord),
    SystemdGenerator(GeneratorRecord),
    CronEntry(CronEntry),
    CronScript(CronScript),
    AtJob(AtJob),
    Process(ProcessRecord),
    Socket(SocketRecord),
    Package(PackageRecord),
    PackageFiles(PackageFiles),
    PackageVerify(PackageVerify),
    Diversion(Diversion),
    Account(AccountRecord),
    Group(GroupRecord),
    ShadowFile(ShadowFileRecord),
    SudoRule(SudoRule),
    LoginShells(LoginShells),
    Hook(HookRecord),
    LdPreload(LdPreloadRecord),
    LdSoConf(LdSoConfRecord),
    KernelModule(KernelModuleRecord),
    ModuleConfig(ModuleConfigRecord),
    KernelTaint(KernelTaintRecord),
    LocalBin(LocalBinRecord),
    NetInterface(NetInterfaceRecord),
    Login(LoginRecord),
    Linger(LingerRecord),
    SshdConfig(SshdConfigRecord),
    AuthorizedKeysFile(AuthorizedKeysFileRecord),
    AuthorizedKey(AuthorizedKeyRecord),
    PrivilegedFile(PrivilegedFileRecord),
    HistoryFile(HistoryFileRecord),
    LogFile(LogFileRecord),
    Lastlog(LastlogRecord),
}

/// Parses one line of a records member. Unknown kinds (from dynamic plugins) give `Ok(None)`.
pub fn parse_record(line: &str) -> Result<Option<Record>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    from_value(v)
}

/// Like [`parse_record`] from a JSON value.
pub fn from_value(v: serde_json::Value) -> Result<Option<Record>, serde_json::Error> {
    const KNOWN: &[&str] = &[
        "host_facts",
        "unit",
        "systemd_generator",
        "cron_entry",
        "cron_script",
        "at_job",
        "process",
        "socket",
        "package",
        "package_files",
        "package_verify",
        "diversion",
        "account",
        "group",
        "shadow_file",
        "sudo_rule",
        "login_shells",
        "hook",
        "ld_preload",
        "ld_so_conf",
        "kernel_module",
        "module_config",
        "kernel_taint",
        "local_bin",
        "net_interface",
        "login",
        "linger",
        "sshd_config",
        "authorized_keys_file",
        "authorized_key",
        "privileged_file",
        "history_file",
        "log_file",
        "lastlog",
    ];
    match v.get("kind").and_then(|k| k.as_str()) {
        Some(k) if KNOWN.contains(&k) => serde_json::from_value(v).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_kind_and_round_trip() {
        let r = Record::CronEntry(CronEntry {
            source: SourceRef::path_only("/etc/crontab"),
            line: 3,
            format: "system".into(),
            owner: "root".into(),
            schedule: "@reboot".into(),
            special: Some("reboot".into()),
            run_as: "root".into(),
            command: "/var/log/log".into(),
            ..Default::default()
        });
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with("{\"kind\":\"cron_entry\""), "{s}");
        assert_eq!(parse_record(&s).unwrap(), Some(r));
        assert_eq!(
            parse_record("{\"kind\":\"ssh_key\",\"x\":1}").unwrap(),
            None
        );
        assert!(parse_record("{\"kind\":\"cron_entry\"}").is_err());
    }
}
