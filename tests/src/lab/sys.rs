//! Process and program helpers of the lab: finding and running programs, ssh-keygen, and
//! what `/proc` says of a process (alive, zombie, children, listening ports), log tails.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Absolute path of a program: PATH, then the sbin directories (not on a user's PATH).
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a command to completion; Err with its stderr when it fails.
pub(super) fn run(cmd: &mut Command, input: Option<&str>) -> Result<String, String> {
    let what = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{what}: writing stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Generates an ed25519 key pair without passphrase at `path` (and `path.pub`).
pub(super) fn keygen(path: &Path, comment: &str) -> Command {
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path);
    c
}

/// `type base64` of an OpenSSH public key line (without comment).
pub(super) fn key_blob(pub_line: &str) -> String {
    pub_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a process exists.
pub(super) fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a process has exited and is waiting to be reaped.
/// How long a child of a host's init must stay a zombie to count as a service that died.
pub(super) const ZOMBIE_GRACE: Duration = Duration::from_millis(300);

pub(super) fn zombie(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'))
}

/// Child PIDs of a process (`/proc/PID/task/PID/children`).
pub(super) fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The oldest process running `exe` (the path its `/proc/PID/exe` names, as seen in its own
/// root) in the network namespace of `pid`.
pub(super) fn in_netns_running(pid: u32, exe: &str) -> Option<u32> {
    let ns = fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|p| {
        fs::read_link(format!("/proc/{p}/ns/net")).is_ok_and(|n| n == ns)
            && fs::read_link(format!("/proc/{p}/exe"))
                .is_ok_and(|e| e.as_os_str() == std::ffi::OsStr::new(exe))
    })
}

/// TCP ports in LISTEN state (IPv4) in the network namespace of `pid`.
pub(super) fn listening(pid: u32) -> Vec<u16> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3) != Some(&"0A") {
                return None;
            }
            let port = f.get(1)?.rsplit(':').next()?;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// The last `max` bytes of a file, as text.
pub(super) fn tail(path: &Path, max: usize) -> String {
    let data = fs::read(path).unwrap_or_default();
    let start = data.len().saturating_sub(max);
    String::from_utf8_lossy(&data[start..]).trim().to_string()
}

/// Removes the cgroups named `name` that a [`super::Scenario::SystemdMiner`] host made in each
/// hierarchy it used (`/sys/fs/cgroup/<hierarchy>/<name>` and everything its systemd made
/// below), deepest first, retrying until `deadline` while the kernel still tears down the
/// last processes. Only directories are removed (`rmdir`); nothing else is touched.
pub(super) fn remove_cgroups(name: &str, deadline: std::time::Instant) {
    fn rmdir_tree(dir: &Path) -> std::io::Result<()> {
        for e in fs::read_dir(dir)?.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path())?;
            }
        }
        fs::remove_dir(dir)
    }
    for (hierarchy, _) in super::init::CGROUP_HIERARCHIES {
        let dir = Path::new("/sys/fs/cgroup").join(hierarchy).join(name);
        while dir.exists() {
            match rmdir_tree(&dir) {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() > deadline => {
                    eprintln!("lab teardown: {}: {e}", dir.display());
                    break;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
}
