//! The event rules, as a table: id, title, category, default severity, ATT&CK techniques and
//! what each looks for (with its known false positives). The families decide each alert's
//! severity from the event (the default is the usual case); nothing else lives here.

use super::Category;
use dossier_plugin_api::analysis::Severity;

/// One event rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRule {
    pub id: &'static str,
    pub title: &'static str,
    pub category: Category,
    /// The usual severity; an alert may be lower (routine actor) or higher (worse context).
    pub severity: Severity,
    /// ATT&CK ids (names via `dossier_plugin_api::attack::name`).
    pub techniques: &'static [&'static str],
    /// What the rule looks for, and its known false positives.
    pub description: &'static str,
}

/// Every event rule, in documentation order.
pub const EVENT_RULES: &[EventRule] = &[
    EventRule {
        id: "event-download-exec",
        title: "Download and execute",
        category: Category::Execution,
        severity: Severity::High,
        techniques: &["T1105", "T1059.004"],
        description: "A command fetches something from the network and runs it without it ever being a reviewed file on disk: curl or wget piped into a shell, sh -c \"$(curl ...)\", or a download written to a file that is then made executable (and usually run); or, over several commands, a file a download wrote on the host being run later. Read from executions, sudo commands and the lines of scripts the sensor recorded. FP: vendor installer one-liners (curl https://... | sh) run by an administrator or a CI job.",
    },
    EventRule {
        id: "event-reverse-shell",
        title: "Reverse or bind shell",
        category: Category::CommandAndControl,
        severity: Severity::Critical,
        techniques: &["T1059.004", "T1095"],
        description: "A shell is wired to a network socket so that someone elsewhere types its commands: bash's /dev/tcp and /dev/udp redirections, nc -e / ncat --exec, socat ... exec:, python/perl/php/ruby one-liners that connect a socket and spawn a shell, a fifo piped through netcat; or a shell process (bash, sh, dash, zsh) itself opening a network connection. FP: none known in production; red-team exercises.",
    },
    EventRule {
        id: "event-encoded-command",
        title: "Encoded command decoded and run",
        category: Category::DefenseEvasion,
        severity: Severity::High,
        techniques: &["T1027", "T1140", "T1059.004"],
        description: "A command decodes an encoded payload (base64, hex, zlib, rot13) and feeds it to a shell, eval or exec, so that what runs is not visible in the command line. The base64 text is decoded for the alert and judged again: a decoded reverse shell makes the alert critical. FP: rare; some installers ship base64 blobs to eval.",
    },
    EventRule {
        id: "event-credential-access",
        title: "Credential store read",
        category: Category::CredentialAccess,
        severity: Severity::High,
        techniques: &["T1003.008", "T1552.004", "T1555.003"],
        description: "A process reads (or a command names for reading or copying) where credentials are kept: /etc/shadow, /etc/gshadow, /etc/security/opasswd, SSH private keys (users' ~/.ssh/id_* and the host keys), browsers' saved passwords and cookies. The programs whose job is to read them are routine when they run from their packaged place: sshd, login, su, sudo, passwd, unix_chkpwd, the shadow tools, cron's PAM, integrity checkers (aide), the SSH client reading its user's own key, a browser reading its own store, Debian's daily backup copy into /var/backups. Reading one's own SSH key with cat is Medium. FP: backups reading /etc in full by name of each file; an administrator inspecting /etc/shadow by hand.",
    },
    EventRule {
        id: "event-discovery-burst",
        title: "Discovery burst",
        category: Category::Discovery,
        severity: Severity::Medium,
        techniques: &["T1082", "T1033", "T1016", "T1049", "T1057", "T1087.001"],
        description: "One parent process runs many different discovery commands in a few minutes (who am I, what system, network configuration, connections, processes, accounts, privileges, setuid files, hardware): the first thing an intruder does on a new host. Five of the kinds within five minutes from one parent; a single uname is nothing. Low when a person at a terminal does it (administrators troubleshoot), High when a web server, a program in an unusual place or a process descending from the intrusion (see event-persistence-write) does it. Security agents and configuration management gathering facts go to event-agent-inventory instead. FP: an administrator's first look at a host; monitoring scripts that are not packaged.",
    },
    EventRule {
        id: "event-log-clearing",
        title: "Log or history clearing",
        category: Category::DefenseEvasion,
        severity: Severity::High,
        techniques: &["T1070.002", "T1070.003", "T1562.003", "T1562.012"],
        description: "Logs or shell history are wiped or turned off: live files under /var/log (auth.log, secure, syslog, messages, wtmp, btmp, lastlog, audit/audit.log) truncated, deleted, shredded or emptied by redirection; history files deleted, truncated or linked to /dev/null; history -c; HISTFILE unset or pointed at /dev/null, HISTSIZE=0 (Medium); the audit system stopped or its rules deleted (Medium). Rotated or compressed logs (name.1, .gz, -20251120) and the programs whose job it is (logrotate and the compressors it runs, savelog, journald, systemd-tmpfiles, package managers, agents) are routine and not reported; journalctl --vacuum-* at a terminal is Info. FP: an administrator emptying a runaway log by hand.",
    },
    EventRule {
        id: "event-persistence-write",
        title: "Persistence point written",
        category: Category::Persistence,
        severity: Severity::Medium,
        techniques: &[
            "T1053.003",
            "T1543.002",
            "T1546.004",
            "T1098.004",
            "T1548.003",
            "T1574.006",
            "T1037.004",
        ],
        description: "Something writes a place that makes code run later or grants access: cron (crontab, cron.d, cron.daily..., spool crontabs, the crontab command), systemd units, shell profiles (/etc/profile*, bash.bashrc, users' .bashrc/.profile...), rc.local and init.d, authorized_keys, sudoers, /etc/ld.so.preload. Package managers and configuration management writing them is routine (Info); a person editing one with an editor at a terminal is Low; any other writer is Medium; High when what is written or who writes points at something bad (a program in /tmp, /dev/shm or a hidden directory, a download, a network shell, a web server or service account as the writer, a writer in an unusual place, a writer descending from a process that raised a High or Critical alert or from the shell that started one) and for any non-package write of /etc/ld.so.preload. Needs the events in time order. FP: in-house deployment scripts that are not configuration management.",
    },
    EventRule {
        id: "event-privilege-change",
        title: "Privilege change",
        category: Category::PrivilegeEscalation,
        severity: Severity::High,
        techniques: &["T1136.001", "T1098", "T1078.003", "T1548.001"],
        description: "An account gains privileges or a way to get them: an account created with uid 0 or a line with uid 0 appended to /etc/passwd (Critical), an account added to sudo, wheel, admin or root (Medium when an administrator does it at a terminal), an account created by something other than an administrator's session, a package or configuration management (High; Low at a terminal), a file made setuid or given setuid-like capabilities (High for shells, interpreters and files in unusual places; Medium otherwise), a service account (www-data...) running a command as root through sudo (High). FP: provisioning scripts outside configuration management.",
    },
    EventRule {
        id: "event-logon-new-source",
        title: "Logon from a new source",
        category: Category::InitialAccess,
        severity: Severity::Low,
        techniques: &["T1078", "T1021.004"],
        description: "An account logs on successfully from an address never seen before for it on that host, while other addresses are known for it (the first logon of an account sets its baseline and raises nothing). An address in the same /24 (IPv4) or /64 (IPv6) as a known one is not new. Medium when the new address is public and every known one is private, or the account is root. Depends on event order: events are judged in the order given. FP: administrators travelling, new VPN pools.",
    },
    EventRule {
        id: "event-brute-force",
        title: "Password guessing",
        category: Category::CredentialAccess,
        severity: Severity::Medium,
        techniques: &["T1110.001", "T1110.003"],
        description: "Ten or more failed logons from one address within ten minutes (twice the point at which fail2ban's defaults ban; a person mistyping makes one to three). Several accounts tried from the address is password spraying. After twenty such addresses on one host the rest fold into one alert. Superseded by event-brute-force-success for an address that then logs on. FP: a misconfigured client retrying a stale password.",
    },
    EventRule {
        id: "event-brute-force-success",
        title: "Password guessing followed by a logon",
        category: Category::InitialAccess,
        severity: Severity::High,
        techniques: &["T1110", "T1078"],
        description: "An address that failed to log on ten or more times within ten minutes logs on successfully within the hour after its last failure: the guessing worked, or the attacker had the password all along. FP: a user who forgot a changed password and got it right.",
    },
    EventRule {
        id: "event-exec-unusual-location",
        title: "Program run from an unusual location",
        category: Category::Execution,
        severity: Severity::Medium,
        techniques: &["T1036.005", "T1564.001"],
        description: "A program (or the script an interpreter runs) is started from /tmp, /var/tmp, /dev/shm, /run, /var/log, /boot, /dev or a hidden directory (per-user toolchain directories excepted). Low for a plain /tmp program a person runs at a terminal; High when a download on the same host wrote it, or a web server, a service account or a process descending from the intrusion starts it. Programs a build toolchain (make, cargo, go, cc, ctest... from a toolchain's place) compiles and runs, package maintainer scripts and ansible's module payloads are routine and not reported. FP: self-built tools run from a dot-directory.",
    },
    EventRule {
        id: "event-c2-connection",
        title: "Network connection from a program in an unusual location",
        category: Category::CommandAndControl,
        severity: Severity::High,
        techniques: &["T1571", "T1095", "T1071.001"],
        description: "A program in /tmp, /dev/shm, a hidden directory or another unusual place (or one a download on the host wrote) connects out: High to a public address on a non-standard port, Medium on a standard one (web, DNS, mail, SSH, NTP), Low to a private address; loopback and programs a build toolchain made are not reported. FP: test binaries of builds the rules cannot see being built.",
    },
    EventRule {
        id: "event-system-monitoring",
        title: "System activity collection (sysstat)",
        category: Category::SystemMonitoring,
        severity: Severity::Info,
        techniques: &[],
        description: "Scripts of sysstat's collection (sa1, sa2 and Debian's debian-sa1 helper) run from their packaged place, recorded by the sensor: routine performance data collection, reported so that the sensor's records are accounted for. A script of that name run from anywhere else is not routine and is judged by the other rules.",
    },
    EventRule {
        id: "event-agent-inventory",
        title: "Security agent inventory or scan",
        category: Category::SoftwareInventory,
        severity: Severity::Info,
        techniques: &["T1518", "T1082", "T1057", "T1083"],
        description: "A security or monitoring agent (Defender for Endpoint, Wazuh, osquery, Qualys, ...) or configuration management (ansible facts) runs inventory and scanning scripts and discovery commands from its install directory: software inventory, vulnerability scans (log4j), process and system listings. Routine; reported so that the sensor's records are accounted for. The scripts' lines are still judged by the other rules.",
    },
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static EventRule> {
    EVENT_RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_techniques_known() {
        for (i, r) in EVENT_RULES.iter().enumerate() {
            assert!(r.id.starts_with("event-"), "{}", r.id);
            assert!(
                EVENT_RULES[..i].iter().all(|o| o.id != r.id),
                "duplicate {}",
                r.id
            );
            for t in r.techniques {
                assert!(
                    dossier_plugin_api::attack::name(t).is_some(),
                    "{}: unknown technique {t}",
                    r.id
                );
            }
            assert!(!r.description.is_empty() && !r.title.is_empty());
        }
    }
}
