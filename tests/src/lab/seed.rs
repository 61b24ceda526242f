//! What is planted on a fake host before it starts ([`Seed`]): its identity, own `/root` and
//! `/home`, sshd configuration and keys, accounts, and the Miner incident. The Persist and
//! Benign scenarios plant theirs with these helpers ([`super::persist`], [`super::benign`]);
//! which host gets what is decided in [`super::start`].

use super::{INTRUDER_KEY, LAB_USER, LabHost, Scenario};
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files planted on one host before it starts: a tree copied into the overlay's upper
/// directory. Directories it has to create take mode and owner from the real `/` where they
/// exist there, so that planting `/root/.ssh/...` does not change how `/root` looks.
pub(super) struct Seed {
    pub(super) dir: PathBuf,
}

impl Seed {
    pub(super) fn path(&self, host_path: &str) -> PathBuf {
        self.dir.join(host_path.trim_start_matches('/'))
    }

    /// Creates the ancestors of `host_path` in the seed.
    pub(super) fn parents(&self, host_path: &str) -> std::io::Result<()> {
        let mut real = PathBuf::from("/");
        let comps: Vec<_> = Path::new(host_path).components().skip(1).collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            real.push(c);
            let rel = real.strip_prefix("/").expect("absolute");
            let dst = self.dir.join(rel);
            if dst.exists() {
                continue;
            }
            match fs::symlink_metadata(&real) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(std::io::Error::other(format!(
                        "cannot plant {host_path}: {} is a symlink on the lower layer",
                        real.display()
                    )));
                }
                Ok(m) if m.is_dir() => {
                    fs::create_dir(&dst)?;
                    fs::set_permissions(&dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
                    std::os::unix::fs::chown(&dst, Some(m.uid()), Some(m.gid()))?;
                }
                _ => {
                    fs::create_dir(&dst)?;
                    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn dir(
        &self,
        host_path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> std::io::Result<()> {
        self.parents(host_path)?;
        let p = self.path(host_path);
        if !p.exists() {
            fs::create_dir(&p)?;
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&p, Some(uid), Some(gid))
    }

    /// A directory that hides everything of the real `/` at the same path (an overlayfs
    /// opaque directory): the host has its own `/root` and `/home`, not the machine's.
    pub(super) fn opaque_dir(
        &self,
        host_path: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> std::io::Result<()> {
        self.dir(host_path, mode, uid, gid)?;
        let p = std::ffi::CString::new(self.path(host_path).as_os_str().as_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: both names are NUL-terminated and the value is one readable byte.
        let r = unsafe {
            nix::libc::setxattr(
                p.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    pub(super) fn file(
        &self,
        host_path: &str,
        data: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> std::io::Result<()> {
        self.parents(host_path)?;
        let p = self.path(host_path);
        fs::write(&p, data)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&p, Some(uid), Some(gid))
    }

    pub(super) fn symlink(&self, host_path: &str, target: &str) -> std::io::Result<()> {
        self.parents(host_path)?;
        std::os::unix::fs::symlink(target, self.path(host_path))
    }
}

/// `python.service` of [`Scenario::SystemdMiner`]: the seed's unit, but its `ExecStart` gives
/// the disguised interpreter a program to run (the listener on [`MINER_PORT`]).
pub(super) fn systemd_python_service() -> Vec<u8> {
    let unit = String::from_utf8_lossy(PYTHON_SERVICE).replace(
        "ExecStart=/var/log/log\n",
        &format!(
            "ExecStart=/var/log/log -c {}\n",
            super::init::sh_quote(&super::init::hold_program(super::MINER_PORT))
        ),
    );
    unit.into_bytes()
}

/// What systemd starts on a [`Scenario::SystemdMiner`] host: only `ssh.service` and
/// `python.service` are wanted by `multi-user.target`, and no timer or getty (opaque folders
/// hide the machine's links).
pub(super) fn plant_systemd_units(s: &Seed) -> std::io::Result<()> {
    for wants in [
        "/etc/systemd/system/multi-user.target.wants",
        "/etc/systemd/system/timers.target.wants",
        "/etc/systemd/system/getty.target.wants",
        "/etc/systemd/system/sockets.target.wants",
    ] {
        s.opaque_dir(wants, 0o755, 0, 0)?;
    }
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/ssh.service",
        "/lib/systemd/system/ssh.service",
    )?;
    // The console getty nspawn asks for has nothing to talk to.
    s.symlink("/etc/systemd/system/console-getty.service", "/dev/null")
}

/// Contents of the miner binary's tail (as in `tests/fixtures/generate.py`).
pub(super) const MINER_STRINGS: &[u8] = b"xmrig 6.21.0 built for linux-x86_64\x00--donate-level=1\x00stratum+tcp://pool.supportxmr.com:3333\x00-o pool.minexmr.com:4444 -u 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A\x00";

pub(super) const PYTHON_SERVICE: &[u8] = b"[Unit]\nDescription=Python Service\nAfter=network.target\n\n[Service]\nType=simple\nExecStart=/var/log/log\nRestart=always\nRestartSec=10\nUser=root\n\n[Install]\nWantedBy=multi-user.target\n";
pub(super) const ROOT_CRONTAB: &[u8] = b"# DO NOT EDIT THIS FILE - edit the master and reinstall.\n@reboot /var/log/log >/dev/null 2>&1\n*/10 * * * * pgrep -x log >/dev/null || /var/log/log >/dev/null 2>&1\n";
pub(super) const CRON_D_PYTHON: &[u8] = b"SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n*/5 * * * * root /var/log/log >/dev/null 2>&1\n";

/// Lines of a colon-separated account file (`passwd`, `group`, `shadow`...) without `user`
/// and without the entries whose third field is `id`, plus `extra`.
pub(super) fn accounts(text: &str, user: &str, id: Option<&str>, extra: &str) -> Vec<u8> {
    let mut out = String::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f[0] == user || (id.is_some() && f.get(2).copied() == id) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(extra);
    out.into_bytes()
}

/// A file of the real `/` as text (empty if unreadable).
pub(super) fn real(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// `/etc/shadow` of the real `/` with root's account usable by key without PAM (sshd refuses
/// locked accounts, `!...`, when `UsePAM no`), or None when it already is.
pub(super) fn shadow_root_unlocked(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::new();
    for line in text.lines() {
        let mut f: Vec<&str> = line.split(':').collect();
        if f[0] == "root" && f.get(1).is_some_and(|p| p.starts_with('!')) {
            f[1] = "*";
            changed = true;
        }
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    changed.then_some(out)
}

pub(super) fn sshd_config(h: &LabHost) -> String {
    let root_login = if h.scenario == Scenario::NonRoot {
        "no"
    } else {
        "prohibit-password"
    };
    format!(
        "# sshd of dossier lab host {name} (scenario {scenario:?})\n\
         Port {port}\n\
         HostKey /etc/ssh/ssh_host_ed25519_key\n\
         PermitRootLogin {root_login}\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes yes\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         X11Forwarding no\n\
         LoginGraceTime 60\n\
         MaxStartups 200:30:400\n\
         MaxSessions 64\n\
         AcceptEnv LANG LC_*\n\
         Subsystem sftp internal-sftp\n",
        name = h.name,
        scenario = h.scenario,
        port = h.port,
    )
}

/// Where `dossier sweep --sudo` looks for sftp-server (as `remote/src/ssh/connect.rs` does).
pub(super) const SFTP_SERVERS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/misc/sftp-server",
];

/// A file as planted in the seed so far, or else as on the real `/` (empty if neither).
pub(super) fn planted_or_real(s: &Seed, host_path: &str) -> String {
    fs::read_to_string(s.path(host_path)).unwrap_or_else(|_| real(host_path))
}

/// Plants [`LAB_USER`] (uid/gid 1000, `/home/analyst` from `/etc/skel`, the lab client's key,
/// the password hash given or none) and, when the machine has sudo, a sudoers drop-in letting
/// it run `sudo_cmnd` as root without a password.
pub(super) fn lab_user(
    s: &Seed,
    client_pub: &str,
    password_hash: Option<&str>,
    sudo_cmnd: &str,
) -> std::io::Result<()> {
    let u = LAB_USER;
    s.file(
        "/etc/passwd",
        &accounts(
            &planted_or_real(s, "/etc/passwd"),
            u,
            Some("1000"),
            &format!("{u}:x:1000:1000:Lab Analyst,,,:/home/{u}:/bin/bash\n"),
        ),
        0o644,
        0,
        0,
    )?;
    s.file(
        "/etc/group",
        &accounts(
            &planted_or_real(s, "/etc/group"),
            u,
            Some("1000"),
            &format!("{u}:x:1000:\n"),
        ),
        0o644,
        0,
        0,
    )?;
    let shadow_gid = fs::metadata("/etc/shadow").map(|m| m.gid()).unwrap_or(0);
    s.file(
        "/etc/shadow",
        &accounts(
            &planted_or_real(s, "/etc/shadow"),
            u,
            None,
            &format!("{u}:{}:20000:0:99999:7:::\n", password_hash.unwrap_or("*")),
        ),
        0o640,
        0,
        shadow_gid,
    )?;
    s.file(
        "/etc/gshadow",
        &accounts(
            &planted_or_real(s, "/etc/gshadow"),
            u,
            None,
            &format!("{u}:!::\n"),
        ),
        0o640,
        0,
        shadow_gid,
    )?;
    let home = format!("/home/{u}");
    s.dir(&home, 0o700, 1000, 1000)?;
    if let Ok(rd) = fs::read_dir("/etc/skel") {
        for e in rd.flatten() {
            if e.file_type()?.is_file() {
                let p = format!("{home}/{}", e.file_name().to_string_lossy());
                s.file(&p, &fs::read(e.path())?, 0o644, 1000, 1000)?;
            }
        }
    }
    if Path::new("/usr/bin/sudo").is_file() {
        s.file(
            &format!("/etc/sudoers.d/{u}"),
            format!("{u} ALL=(ALL:ALL) NOPASSWD: {sudo_cmnd}\n").as_bytes(),
            0o440,
            0,
            0,
        )?;
    }
    s.dir(&format!("{home}/.ssh"), 0o700, 1000, 1000)?;
    s.file(
        &format!("{home}/.ssh/authorized_keys"),
        client_pub.as_bytes(),
        0o600,
        1000,
        1000,
    )
}

/// Every host's own identity (hostname, hosts, machine-id) and its own `/root` (as a fresh
/// Debian's) and `/home`, not the machine's.
pub(super) fn plant_base(s: &Seed, name: &str) -> std::io::Result<()> {
    s.file("/etc/hostname", format!("{name}\n").as_bytes(), 0o644, 0, 0)?;
    s.file(
        "/etc/hosts",
        format!("127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n").as_bytes(),
        0o644,
        0,
        0,
    )?;
    let mid = dossier_plugin_api::encoding::hex(&Sha256::digest(format!("dossier-lab {name}")));
    s.file(
        "/etc/machine-id",
        format!("{}\n", &mid[..32]).as_bytes(),
        0o444,
        0,
        0,
    )?;
    // Its own /root (as a fresh Debian's) and /home, not the machine's.
    s.opaque_dir("/root", 0o700, 0, 0)?;
    for (dot, src) in [
        (".bashrc", "/usr/share/base-files/dot.bashrc"),
        (".profile", "/usr/share/base-files/dot.profile"),
    ] {
        if let Ok(data) = fs::read(src) {
            s.file(&format!("/root/{dot}"), &data, 0o644, 0, 0)?;
        }
    }
    s.opaque_dir("/home", 0o755, 0, 0)?;
    Ok(())
}

/// sshd's configuration and host key, and root's authorized_keys (the client's key, and on a
/// Miner host the intruder's too).
pub(super) fn plant_sshd(
    s: &Seed,
    h: &LabHost,
    hdir: &Path,
    client_pub: &str,
) -> std::io::Result<()> {
    s.file(
        "/etc/ssh/sshd_config",
        sshd_config(h).as_bytes(),
        0o644,
        0,
        0,
    )?;
    let key = fs::read(hdir.join("ssh_host_ed25519_key"))?;
    let pubkey = fs::read(hdir.join("ssh_host_ed25519_key.pub"))?;
    s.file("/etc/ssh/ssh_host_ed25519_key", &key, 0o600, 0, 0)?;
    s.file("/etc/ssh/ssh_host_ed25519_key.pub", &pubkey, 0o644, 0, 0)?;
    s.dir("/root/.ssh", 0o700, 0, 0)?;
    let mut keys = client_pub.to_string();
    if h.scenario.is_miner() {
        if !keys.ends_with('\n') {
            keys.push('\n');
        }
        keys.push_str(INTRUDER_KEY);
        keys.push('\n');
    }
    s.file("/root/.ssh/authorized_keys", keys.as_bytes(), 0o600, 0, 0)?;
    Ok(())
}

/// The miner incident: the disguised interpreter, its unit, root's crontab and a cron.d job.
pub(super) fn plant_miner(s: &Seed, python: &[u8], unit: &[u8]) -> std::io::Result<()> {
    let mut bin = python.to_vec();
    bin.extend_from_slice(&[0u8; 64]);
    bin.extend_from_slice(MINER_STRINGS);
    for p in ["/var/log/log", "/usr/bin/log", "/usr/log"] {
        s.file(p, &bin, 0o755, 0, 0)?;
    }
    s.file("/etc/systemd/system/python.service", unit, 0o644, 0, 0)?;
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/python.service",
        "/etc/systemd/system/python.service",
    )?;
    let crontab_gid = fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == "crontab")
                .then(|| f.get(2)?.parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    s.dir("/var/spool/cron", 0o755, 0, 0)?;
    s.dir("/var/spool/cron/crontabs", 0o1730, 0, crontab_gid)?;
    s.file(
        "/var/spool/cron/crontabs/root",
        ROOT_CRONTAB,
        0o600,
        0,
        crontab_gid,
    )?;
    s.file("/etc/cron.d/python", CRON_D_PYTHON, 0o644, 0, 0)?;
    Ok(())
}
