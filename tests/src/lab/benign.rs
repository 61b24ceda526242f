//! The files and services of [`Scenario::Benign`](super::Scenario::Benign) lab hosts: an
//! ordinary, uncompromised server with the local administration a real fleet has, and live
//! processes, for the benign half of the precision corpus over SSH.
//!
//! Planted (as an administrator leaves them):
//! - an in-house Python web service, `/opt/app/server.py`, under its own system user `app`
//!   with its unit (`WorkingDirectory=/opt/app`, `User=app`), **running** as `app` and
//!   listening on `0.0.0.0:`[`APP_PORT`];
//! - a developer account `dev` (the lines nvm and pyenv add to `~/.bashrc`) whose local dev
//!   server (`python3 -m http.server`) **runs** as `dev` on `127.0.0.1:`[`DEV_PORT`];
//! - a database "built from source" in `/usr/local/pgsql` with its `postgres` user and unit:
//!   `/usr/local/pgsql/bin/postgres -D /usr/local/pgsql/data` **runs** as `postgres` and
//!   listens on `0.0.0.0:`[`DB_PORT`] (the program is the `lab-listener` binary of this
//!   package, a compiled daemon that accepts connections and says nothing);
//! - a heartbeat unit running `/usr/bin/sleep infinity`, a nightly backup timer and service
//!   running a restic script in `/usr/local/bin` (with their enablement links);
//! - a configuration-management account `ansible` with password-less sudo (valid sudoers,
//!   mode 0440), the control node's key and a profile.d file it manages.
//!
//! Nothing else runs: the units are files (the lab host has no init system), the backup script
//! is never run, and every service binds only inside the host's own network namespace.

use super::seed::{Seed, accounts, planted_or_real};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Port of the in-house web service (all addresses).
pub const APP_PORT: u16 = 8080;
/// Port of the developer's dev server (loopback only).
pub const DEV_PORT: u16 = 3000;
/// Port of the source-built database (all addresses).
pub const DB_PORT: u16 = 5432;
/// (name, uid) of the accounts planted: the web service's, the database's, the developer's and
/// configuration management's.
pub const APP_USER: (&str, u32) = ("app", 940);
pub const DB_USER: (&str, u32) = ("postgres", 941);
pub const DEV_USER: (&str, u32) = ("dev", 1001);
pub const ANSIBLE_USER: (&str, u32) = ("ansible", 1002);
/// The database program.
pub const DB_PROGRAM: &str = "/usr/local/pgsql/bin/postgres";

const SERVER_PY: &str = r#"#!/usr/bin/env python3
"""Inventory: the in-house asset inventory (read-only JSON API behind nginx)."""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = (200, {"ok": True}) if self.path == "/healthz" else (404, {"error": "not found"})
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8080)
    a = p.parse_args()
    ThreadingHTTPServer((a.bind, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
"#;

/// The `lab-listener` binary built next to the test executable (`target/<profile>/`).
pub fn listener_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("lab-listener");
    p.is_file().then_some(p)
}

/// Init-script lines starting the host's services (after sshd), each as its own user.
pub fn services() -> String {
    let (_, app) = APP_USER;
    let (_, db) = DB_USER;
    let (dev_name, dev) = DEV_USER;
    format!(
        "chroot --userspec={app}:{app} \"$R\" /bin/sh -c 'cd /opt/app && exec /usr/bin/python3 /opt/app/server.py --bind 0.0.0.0 --port {APP_PORT}' </dev/null >/dev/null 2>&1 &\n\
         chroot --userspec={dev}:{dev} \"$R\" /bin/sh -c 'cd /home/{dev_name}/site && exec /usr/bin/python3 -m http.server {DEV_PORT} --bind 127.0.0.1' </dev/null >/dev/null 2>&1 &\n\
         chroot --userspec={db}:{db} \"$R\" {DB_PROGRAM} -D /usr/local/pgsql/data -p {DB_PORT} </dev/null >/dev/null 2>&1 &\n"
    )
}

/// Adds an account (passwd, group, shadow with a locked password) to the seed.
fn account(
    s: &Seed,
    name: &str,
    uid: u32,
    gecos: &str,
    home: &str,
    shell: &str,
) -> std::io::Result<()> {
    s.file(
        "/etc/passwd",
        &accounts(
            &planted_or_real(s, "/etc/passwd"),
            name,
            Some(&uid.to_string()),
            &format!("{name}:x:{uid}:{uid}:{gecos}:{home}:{shell}\n"),
        ),
        0o644,
        0,
        0,
    )?;
    s.file(
        "/etc/group",
        &accounts(
            &planted_or_real(s, "/etc/group"),
            name,
            Some(&uid.to_string()),
            &format!("{name}:x:{uid}:\n"),
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
            name,
            None,
            &format!("{name}:!:20100:0:99999:7:::\n"),
        ),
        0o640,
        0,
        shadow_gid,
    )
}

/// Plants everything of a Benign host into the seed.
pub(super) fn plant(s: &Seed, client_pub: &str) -> std::io::Result<()> {
    let listener = listener_program().ok_or_else(|| {
        std::io::Error::other("the lab-listener binary is not built (cargo test builds it)")
    })?;
    plant_app(s)?;
    plant_dev(s)?;
    plant_db(s, &listener)?;
    plant_units(s)?;
    plant_ansible(s, client_pub)
}

/// A file of `/etc/skel` (empty when missing).
fn skel(f: &str) -> Vec<u8> {
    fs::read(format!("/etc/skel/{f}")).unwrap_or_default()
}

/// The in-house web service: its account, code and unit.
fn plant_app(s: &Seed) -> std::io::Result<()> {
    let (app, app_uid) = APP_USER;
    account(
        s,
        app,
        app_uid,
        "Inventory web app",
        "/opt/app",
        "/usr/sbin/nologin",
    )?;
    s.dir("/opt/app", 0o755, app_uid, app_uid)?;
    s.file(
        "/opt/app/server.py",
        SERVER_PY.as_bytes(),
        0o755,
        app_uid,
        app_uid,
    )?;
    s.file(
        "/etc/systemd/system/inventory.service",
        format!(
            "[Unit]\nDescription=Inventory web service\nAfter=network.target\n\n[Service]\nType=simple\nUser={app}\nGroup={app}\nWorkingDirectory=/opt/app\nEnvironment=PYTHONUNBUFFERED=1\nExecStart=/usr/bin/python3 /opt/app/server.py --bind 0.0.0.0 --port {APP_PORT}\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/inventory.service",
        "/etc/systemd/system/inventory.service",
    )
}

/// The developer and the dev server's directory.
fn plant_dev(s: &Seed) -> std::io::Result<()> {
    let (dev, dev_uid) = DEV_USER;
    let home = format!("/home/{dev}");
    account(s, dev, dev_uid, "Dev Eloper,,,", &home, "/bin/bash")?;
    s.dir(&home, 0o750, dev_uid, dev_uid)?;
    let mut bashrc = skel(".bashrc");
    bashrc.extend_from_slice(b"\nexport NVM_DIR=\"$HOME/.nvm\"\n[ -s \"$NVM_DIR/nvm.sh\" ] && \\. \"$NVM_DIR/nvm.sh\"  # This loads nvm\n\nexport PYENV_ROOT=\"$HOME/.pyenv\"\n[[ -d $PYENV_ROOT/bin ]] && export PATH=\"$PYENV_ROOT/bin:$PATH\"\neval \"$(pyenv init -)\"\n");
    s.file(&format!("{home}/.bashrc"), &bashrc, 0o644, dev_uid, dev_uid)?;
    s.file(
        &format!("{home}/.profile"),
        &skel(".profile"),
        0o644,
        dev_uid,
        dev_uid,
    )?;
    s.dir(&format!("{home}/site"), 0o755, dev_uid, dev_uid)?;
    s.file(
        &format!("{home}/site/index.html"),
        b"<!doctype html><title>storefront (dev)</title><p>work in progress</p>\n",
        0o644,
        dev_uid,
        dev_uid,
    )
}

/// The source-built database (the listener program as its server) and its unit.
fn plant_db(s: &Seed, listener: &Path) -> std::io::Result<()> {
    let (db, db_uid) = DB_USER;
    account(
        s,
        db,
        db_uid,
        "PostgreSQL administrator,,,",
        "/var/lib/postgresql",
        "/bin/bash",
    )?;
    s.file(DB_PROGRAM, &fs::read(listener)?, 0o755, 0, 0)?;
    s.dir("/usr/local/pgsql/data", 0o700, db_uid, db_uid)?;
    s.file(
        "/usr/local/pgsql/data/postgresql.conf",
        format!("listen_addresses = '*'\nport = {DB_PORT}\n").as_bytes(),
        0o600,
        db_uid,
        db_uid,
    )?;
    s.file(
        "/etc/systemd/system/postgresql.service",
        format!(
            "[Unit]\nDescription=PostgreSQL database server\nDocumentation=man:postgres(1)\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\nType=notify\nUser={db}\nExecStart={DB_PROGRAM} -D /usr/local/pgsql/data\nExecReload=/bin/kill -HUP $MAINPID\nKillMode=mixed\nKillSignal=SIGINT\nTimeoutSec=infinity\n\n[Install]\nWantedBy=multi-user.target\n"
        )
        .as_bytes(),
        0o644,
        0,
        0,
    )?;
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/postgresql.service",
        "/etc/systemd/system/postgresql.service",
    )
}

/// Heartbeat unit and nightly backup.
fn plant_units(s: &Seed) -> std::io::Result<()> {
    s.file(
        "/etc/systemd/system/heartbeat.service",
        b"[Unit]\nDescription=Heartbeat process watched by the cluster monitor\n\n[Service]\nType=simple\nExecStart=/usr/bin/sleep infinity\nRestart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
        0o644,
        0,
        0,
    )?;
    s.symlink(
        "/etc/systemd/system/multi-user.target.wants/heartbeat.service",
        "/etc/systemd/system/heartbeat.service",
    )?;
    s.file(
        "/etc/systemd/system/backup-nightly.service",
        b"[Unit]\nDescription=Nightly restic backup of /etc, /srv and /home\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/restic-backup\nNice=10\nIOSchedulingClass=idle\n",
        0o644,
        0,
        0,
    )?;
    s.file(
        "/etc/systemd/system/backup-nightly.timer",
        b"[Unit]\nDescription=Run the nightly restic backup\n\n[Timer]\nOnCalendar=*-*-* 02:30:00\nRandomizedDelaySec=30m\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        0o644,
        0,
        0,
    )?;
    s.symlink(
        "/etc/systemd/system/timers.target.wants/backup-nightly.timer",
        "/etc/systemd/system/backup-nightly.timer",
    )?;
    s.file(
        "/usr/local/bin/restic-backup",
        b"#!/bin/sh\n# Nightly backup to the backup host (restic over sftp).\nset -eu\nexport RESTIC_REPOSITORY=sftp:restic@backup01.example.internal:/srv/restic/$(hostname)\nexport RESTIC_PASSWORD_FILE=/etc/restic/password\nrestic backup --one-file-system --exclude-caches /etc /srv /home\nrestic forget --keep-daily 7 --keep-weekly 5 --prune\n",
        0o755,
        0,
        0,
    )
}

/// Configuration management: the `ansible` account with password-less sudo and the
/// profile.d file it manages.
fn plant_ansible(s: &Seed, client_pub: &str) -> std::io::Result<()> {
    let (ans, ans_uid) = ANSIBLE_USER;
    let home = format!("/home/{ans}");
    account(
        s,
        ans,
        ans_uid,
        "Ansible configuration management",
        &home,
        "/bin/bash",
    )?;
    s.dir(&home, 0o750, ans_uid, ans_uid)?;
    s.file(
        &format!("{home}/.bashrc"),
        &skel(".bashrc"),
        0o644,
        ans_uid,
        ans_uid,
    )?;
    s.file(
        &format!("{home}/.profile"),
        &skel(".profile"),
        0o644,
        ans_uid,
        ans_uid,
    )?;
    s.dir(&format!("{home}/.ssh"), 0o700, ans_uid, ans_uid)?;
    s.file(
        &format!("{home}/.ssh/authorized_keys"),
        client_pub.as_bytes(),
        0o600,
        ans_uid,
        ans_uid,
    )?;
    s.file(
        "/etc/sudoers.d/ansible",
        format!("# Ansible managed: do not edit by hand\n{ans} ALL=(ALL) NOPASSWD: ALL\n")
            .as_bytes(),
        0o440,
        0,
        0,
    )?;
    s.file(
        "/etc/profile.d/site-defaults.sh",
        b"# Ansible managed: do not edit by hand (role: base/shell)\numask 022\nexport EDITOR=vim\nexport LESS=-R\n",
        0o644,
        0,
        0,
    )
}
