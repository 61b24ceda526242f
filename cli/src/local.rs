//! `LocalHost`: the machine dossier runs on, or a mounted image (`--root DIR`).
//!
//! Live: plain path resolution (so `/proc/PID/exe` magic links work), `exec` of fixed system
//! tools allowed. Image: every path is resolved by the kernel with `openat2(RESOLVE_IN_ROOT)`
//! against the image root, so `..` and absolute symlinks stay inside the image, exactly as if
//! the image were `/`; magic links are refused. In both, files are opened for reading only,
//! with `O_NOATIME` where permitted (reading does not change access times). A path is resolved
//! once, into an `O_PATH` descriptor whose file type is checked; only a regular file is then
//! opened, through that descriptor (`/proc/self/fd/N`), never by path again: FIFOs, sockets and
//! devices are never opened, not even by a link swapped in between.

use dossier_plugin_api::Timestamp;
use dossier_plugin_api::encoding::path_to_text;
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, HostKind, exec_program,
};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{FileStat, Mode, fstat};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The local machine or a mounted image.
pub struct LocalHost {
    /// Image root (opened `O_PATH`); `None` for the live system.
    root: Option<(PathBuf, OwnedFd)>,
}

impl LocalHost {
    /// The running system.
    pub fn live() -> Self {
        LocalHost { root: None }
    }

    /// A mounted image or directory tree, read as if it were `/`.
    pub fn image(dir: &Path) -> Result<Self, HostError> {
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| errno_error(e, dir, "cannot open image root"))?;
        // Probe openat2 once so an old kernel gives a clear error, not odd failures later.
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT);
        if let Err(e) = openat2(fd.as_fd(), ".", how) {
            return Err(HostError::new(
                HostErrorKind::Unsupported,
                dir,
                format!("safe --root resolution needs openat2 (Linux 5.6+): {e}"),
            ));
        }
        Ok(LocalHost {
            root: Some((dir.to_path_buf(), fd)),
        })
    }

    fn open_raw(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, HostError> {
        if !path.is_absolute() {
            return Err(HostError::new(
                HostErrorKind::Other,
                path,
                "path must be absolute",
            ));
        }
        let flags = flags | OFlag::O_CLOEXEC;
        let r = match &self.root {
            None => openat2(AT_FDCWD, path, OpenHow::new().flags(flags)),
            Some((_, root)) => {
                let rel = path.strip_prefix("/").unwrap_or(path);
                let rel = if rel.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    rel
                };
                openat2(
                    root.as_fd(),
                    rel,
                    OpenHow::new()
                        .flags(flags)
                        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS),
                )
            }
        };
        r.map_err(|e| errno_error(e, path, ""))
    }

    fn path_stat(&self, path: &Path, follow: bool) -> Result<FileStat, HostError> {
        let mut flags = OFlag::O_PATH;
        if !follow {
            flags |= OFlag::O_NOFOLLOW;
        }
        let fd = self.open_raw(path, flags)?;
        fstat(fd.as_fd()).map_err(|e| errno_error(e, path, "fstat"))
    }
}

/// Opens the file an `O_PATH` descriptor holds for reading (`O_NOATIME` where permitted),
/// through `/proc/self/fd/N`: the kernel reopens exactly that inode, with the usual permission
/// check on it; no path is resolved again.
fn reopen_for_reading(pinned: &OwnedFd, path: &Path) -> Result<OwnedFd, HostError> {
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(pinned));
    let base = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let open = |flags| nix::fcntl::open(link.as_str(), flags, Mode::empty());
    match open(base | OFlag::O_NOATIME) {
        Err(Errno::EPERM | Errno::EACCES) => open(base),
        other => other,
    }
    .map_err(|e| match e {
        Errno::ENOENT => HostError::new(
            HostErrorKind::Other,
            path,
            "cannot reopen through /proc/self/fd (is /proc mounted?); not read",
        ),
        e => errno_error(e, path, ""),
    })
}

/// Maps an errno to a host error about `path`.
pub fn errno_error(e: Errno, path: &Path, what: &str) -> HostError {
    let kind = match e {
        Errno::ENOENT => HostErrorKind::NotFound,
        Errno::EACCES | Errno::EPERM => HostErrorKind::PermissionDenied,
        Errno::ENOTDIR => HostErrorKind::NotADirectory,
        Errno::ELOOP => HostErrorKind::Loop,
        Errno::EXDEV => HostErrorKind::EscapesRoot,
        Errno::ETIMEDOUT => HostErrorKind::Timeout,
        _ => HostErrorKind::Other,
    };
    let msg = if what.is_empty() {
        e.desc().to_lowercase()
    } else {
        format!("{what}: {}", e.desc().to_lowercase())
    };
    HostError::new(kind, path, msg)
}

/// `FileMeta` from `stat(2)` data.
pub fn meta_from_stat(st: &FileStat) -> FileMeta {
    let ts = |s: i64, ns: i64| Timestamp::from_unix(s, ns.clamp(0, 999_999_999) as u32);
    FileMeta {
        kind: FileKind::from_mode(st.st_mode),
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size.max(0) as u64,
        nlink: Some(st.st_nlink),
        mtime: ts(st.st_mtime, st.st_mtime_nsec),
        ctime: ts(st.st_ctime, st.st_ctime_nsec),
        atime: ts(st.st_atime, st.st_atime_nsec),
        dev: Some(st.st_dev),
        inode: Some(st.st_ino),
    }
}

struct LocalFile {
    file: std::fs::File,
    meta: FileMeta,
}

impl Read for LocalFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl FileReader for LocalFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        fstat(self.file.as_fd())
            .map(|s| meta_from_stat(&s))
            .map_err(|e| HostError::general(HostErrorKind::Other, format!("fstat: {e}")))
    }
}

impl Host for LocalHost {
    fn info(&self) -> HostInfo {
        match &self.root {
            None => HostInfo {
                kind: HostKind::Local,
                label: "local".into(),
                live: true,
                can_exec: true,
                own_pids: vec![std::process::id()],
            },
            Some((dir, _)) => HostInfo {
                kind: HostKind::Image,
                label: format!("image:{}", path_to_text(dir)),
                live: false,
                can_exec: false,
                own_pids: Vec::new(),
            },
        }
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.path_stat(path, false).map(|s| meta_from_stat(&s))
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.path_stat(path, true).map(|s| meta_from_stat(&s))
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        let fd = self.open_raw(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        match nix::fcntl::readlinkat(fd.as_fd(), "") {
            Ok(t) => Ok(PathBuf::from(t)),
            Err(Errno::ENOENT) | Err(Errno::EINVAL) => {
                Err(HostError::new(HostErrorKind::Other, path, "not a symlink"))
            }
            Err(e) => Err(errno_error(e, path, "readlink")),
        }
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let fd = self.open_raw(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let dir = nix::dir::Dir::from_fd(fd).map_err(|e| errno_error(e, path, "opendir"))?;
        let mut out = Vec::new();
        for ent in dir {
            let ent = ent.map_err(|e| errno_error(e, path, "readdir"))?;
            let name = ent.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            use nix::dir::Type;
            let kind = ent.file_type().map(|t| match t {
                Type::Fifo => FileKind::Fifo,
                Type::CharacterDevice => FileKind::CharDevice,
                Type::Directory => FileKind::Dir,
                Type::BlockDevice => FileKind::BlockDevice,
                Type::File => FileKind::File,
                Type::Symlink => FileKind::Symlink,
                Type::Socket => FileKind::Socket,
            });
            out.push(DirEntry {
                name: OsString::from_vec(name.to_vec()),
                kind,
                mode: None,
            });
        }
        Ok(out)
    }

    fn xattr(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        // The file is resolved like every other path (inside the image root, final symlink
        // not followed) into an O_PATH descriptor; its attribute is then read through
        // /proc/self/fd, which names exactly that inode. Only regular files and directories
        // are asked: nothing else carries file capabilities.
        let fd = self.open_raw(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        let st = fstat(fd.as_fd()).map_err(|e| errno_error(e, path, "fstat"))?;
        if !matches!(
            FileKind::from_mode(st.st_mode),
            FileKind::File | FileKind::Dir
        ) {
            return Ok(None);
        }
        let link = format!("/proc/self/fd/{}\0", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let Ok(cname) = std::ffi::CString::new(name) else {
            return Err(HostError::new(
                HostErrorKind::Other,
                path,
                "attribute name holds a NUL byte",
            ));
        };
        let mut buf = vec![0u8; 4096];
        // SAFETY: `link` is NUL-terminated, `cname` is a C string, and `buf` is a writable
        // buffer of the length passed; getxattr writes at most that many bytes.
        let n = unsafe {
            libc::getxattr(
                link.as_ptr().cast(),
                cname.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = Errno::last();
            return match e {
                Errno::ENODATA | Errno::EOPNOTSUPP => Ok(None),
                e => Err(errno_error(e, path, "getxattr")),
            };
        }
        buf.truncate(n as usize);
        Ok(Some(buf))
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        // Resolve the path once, into an O_PATH descriptor (opening nothing: no driver or FIFO
        // sees it); check the type on that descriptor; then open for reading through the
        // descriptor, never by path again, so a link swapped in between cannot get a FIFO or a
        // device opened. Only regular files are opened.
        let pinned = self.open_raw(path, OFlag::O_PATH)?;
        let probe = fstat(pinned.as_fd()).map_err(|e| errno_error(e, path, "fstat"))?;
        let kind = FileKind::from_mode(probe.st_mode);
        if kind != FileKind::File {
            return Err(HostError::new(
                HostErrorKind::NotRegular,
                path,
                format!("{} refused: not a regular file (not opened)", kind.name()),
            ));
        }
        let fd = reopen_for_reading(&pinned, path)?;
        let st = fstat(fd.as_fd()).map_err(|e| errno_error(e, path, "fstat"))?;
        if FileKind::from_mode(st.st_mode) != FileKind::File
            || st.st_ino != probe.st_ino
            || st.st_dev != probe.st_dev
        {
            return Err(HostError::new(
                HostErrorKind::NotRegular,
                path,
                "file was replaced while it was being opened; not read",
            ));
        }
        Ok(Box::new(LocalFile {
            file: std::fs::File::from(fd),
            meta: meta_from_stat(&st),
        }))
    }

    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        if self.root.is_some() {
            return Err(HostError::unsupported("exec on an image"));
        }
        exec_program(argv)?;
        run_command(argv, limits)
    }
}

/// Runs `argv` with a clean environment, output capped and a deadline.
pub fn run_command(argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostError::general(HostErrorKind::NotFound, format!("{}: {e}", argv[0])))?;
    let cap = limits.max_output;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = r.by_ref().take(cap).read_to_end(&mut kept);
            let extra = std::io::copy(&mut r, &mut std::io::sink()).unwrap_or(0);
            (kept, extra > 0)
        })
    };
    let out_t = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let err_t = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limits.timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(HostError::general(
                    HostErrorKind::Other,
                    format!("wait: {e}"),
                ));
            }
        }
    };
    let (stdout, truncated) = out_t.join().unwrap_or_default();
    let (stderr, _) = err_t.join().unwrap_or_default();
    Ok(ExecOutput {
        status: status.and_then(|s| s.code()),
        stdout,
        stderr,
        truncated,
        timed_out,
    })
}

#[cfg(test)]
mod race;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/cron.d")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib/systemd/system")).unwrap();
        std::fs::write(r.join("etc/crontab"), "@reboot root /var/log/log\n").unwrap();
        std::fs::write(r.join("usr/lib/systemd/system/a.service"), "[Service]\n").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/etc/crontab", r.join("etc/cron.d/abs")).unwrap();
        symlink("../../../../../../etc/passwd", r.join("etc/cron.d/escape")).unwrap();
        symlink("loop", r.join("etc/cron.d/loop")).unwrap();
        nix::unistd::mkfifo(&r.join("etc/cron.d/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        d
    }

    #[test]
    fn extended_attributes_are_read_in_the_root_without_following_links() {
        let d = tree();
        let r = d.path();
        let f = std::ffi::CString::new(r.join("etc/crontab").to_str().unwrap()).unwrap();
        let v = b"\x01\x00\x00\x02";
        // SAFETY: C strings and a buffer of the length given.
        let set = unsafe {
            libc::setxattr(
                f.as_ptr(),
                c"user.dossier".as_ptr(),
                v.as_ptr().cast(),
                v.len(),
                0,
            )
        };
        if set != 0 {
            eprintln!(
                "user xattrs not supported here: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        let h = LocalHost::image(r).unwrap();
        assert_eq!(
            h.xattr(Path::new("/etc/crontab"), "user.dossier").unwrap(),
            Some(v.to_vec())
        );
        assert_eq!(
            h.xattr(Path::new("/etc/crontab"), "user.none").unwrap(),
            None
        );
        // A link is not followed (links carry no capabilities), and cannot lead out.
        assert_eq!(
            h.xattr(Path::new("/etc/cron.d/abs"), "user.dossier")
                .unwrap(),
            None
        );
        assert_eq!(
            h.xattr(Path::new("/etc/cron.d/fifo"), "user.dossier")
                .unwrap(),
            None
        );
        assert!(
            h.xattr(Path::new("/etc/cron.d/escape/x"), "user.dossier")
                .is_err()
        );
    }

    #[test]
    fn image_paths_stay_inside_the_root() {
        let d = tree();
        let h = LocalHost::image(d.path()).unwrap();
        assert!(!h.info().live);
        assert_eq!(
            h.read(Path::new("/lib/systemd/system/a.service"), 100)
                .unwrap()
                .data,
            b"[Service]\n"
        );
        // An absolute symlink resolves inside the image.
        assert_eq!(
            h.read(Path::new("/etc/cron.d/abs"), 100).unwrap().data,
            b"@reboot root /var/log/log\n"
        );
        // `..` past the root is clamped to the root: the host's /etc/passwd is never reached.
        let e = h.read(Path::new("/etc/cron.d/escape"), 100).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::NotFound, "{e}");
        assert_eq!(
            h.read(Path::new("/etc/cron.d/loop"), 100).unwrap_err().kind,
            HostErrorKind::Loop
        );
        assert_eq!(
            h.lstat(Path::new("/etc/cron.d/abs")).unwrap().kind,
            FileKind::Symlink
        );
        assert_eq!(
            h.read_link(Path::new("/etc/cron.d/abs")).unwrap(),
            PathBuf::from("/etc/crontab")
        );
        assert!(h.exec(&["/bin/true"], &ExecLimits::default()).is_err());
    }

    #[test]
    fn fifos_are_refused_without_opening() {
        let d = tree();
        let h = LocalHost::image(d.path()).unwrap();
        let t = Instant::now();
        let e = h.read(Path::new("/etc/cron.d/fifo"), 100).unwrap_err();
        assert_eq!(e.kind, HostErrorKind::NotRegular);
        assert!(t.elapsed() < Duration::from_secs(1));
        let names: Vec<_> = h
            .read_dir(Path::new("/etc/cron.d"))
            .unwrap()
            .into_iter()
            .map(|e| e.name.into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 4);
        // Devices too (live host).
        let e = LocalHost::live()
            .read(Path::new("/dev/zero"), 10)
            .unwrap_err();
        assert_eq!(e.kind, HostErrorKind::NotRegular);
    }

    #[test]
    fn live_reads_proc_magic_links_and_runs_commands() {
        let h = LocalHost::live();
        let me = h.hash_file(Path::new("/proc/self/exe"), u64::MAX).unwrap();
        assert_eq!(me.sha256.len(), 64);
        let out = h
            .exec(&["/bin/echo", "hi"], &ExecLimits::default())
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        let out = h
            .exec(
                &["/bin/sleep", "5"],
                &ExecLimits {
                    max_output: 10,
                    timeout: Duration::from_millis(100),
                },
            )
            .unwrap();
        assert!(out.timed_out);
        let out = h
            .exec(
                &["/usr/bin/yes"],
                &ExecLimits {
                    max_output: 10,
                    timeout: Duration::from_millis(200),
                },
            )
            .unwrap();
        assert_eq!(out.stdout.len(), 10);
        assert!(out.truncated);
        assert!(h.exec(&["echo"], &ExecLimits::default()).is_err());
    }

    #[test]
    fn reads_do_not_change_atime() {
        let d = tree();
        let p = d.path().join("etc/crontab");
        let before = nix::sys::stat::stat(&p).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        LocalHost::image(d.path())
            .unwrap()
            .read(Path::new("/etc/crontab"), 100)
            .unwrap();
        let after = nix::sys::stat::stat(&p).unwrap();
        assert_eq!(
            (before.st_atime, before.st_atime_nsec),
            (after.st_atime, after.st_atime_nsec)
        );
    }
}
