//! [`SshHost`], a connected and authenticated host, and its `Host` implementation: files,
//! directories, `stat`, `lstat` and `readlink` through SFTP, commands on an exec channel.

use super::command::command_line;
use super::files::{Client, SftpFile, lock, meta_from_attrs, path_bytes};
use super::host_errors::{client_error, io_error, sftp_error};
use super::listed::Listed;
use super::settings::SshTarget;
use crate::sftp_client::WINDOW_BYTES;
use crate::sftp_client::reader::ReadAhead;
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, HostKind, ReadOutcome, exec_program,
};
use ssh2::Session;
use std::ffi::OsString;
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Cuts a host's connection from another thread (deadline watchdog).
#[derive(Clone, Debug)]
pub struct AbortHandle(pub(super) Arc<TcpStream>);

impl AbortHandle {
    /// Shuts the TCP connection down: every blocked and later operation fails.
    pub fn abort(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// A connected, authenticated host.
pub struct SshHost {
    pub(super) session: Session,
    /// Our SFTP client, on the login's `sftp` subsystem or on `sudo -n sftp-server -R`
    /// (`--sudo`).
    pub(super) client: Client,
    pub(super) target: SshTarget,
    pub(super) stream: Arc<TcpStream>,
    pub(super) sudo: bool,
    pub(super) op_timeout: Duration,
    /// Host key fingerprint (`ED25519 SHA256:...`).
    pub(super) fingerprint: String,
    /// Bytes of file content read over SFTP and of command output.
    pub(super) bytes_read: Arc<AtomicU64>,
    /// The last directory listings, which answer `lstat` of their entries (see `listed`).
    pub(super) listed: Mutex<Listed>,
}

impl std::fmt::Debug for SshHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshHost({})", self.target.label())
    }
}

pub(crate) fn ms(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

impl SshHost {
    /// Whether files are read as root through `sudo -n sftp-server -R`.
    pub fn reads_with_sudo(&self) -> bool {
        self.sudo
    }

    /// A handle that cuts this host's connection (for a deadline watchdog).
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle(self.stream.clone())
    }

    /// The server's host key fingerprint (`ED25519 SHA256:...`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Bytes of file content and command output read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// The target this host was reached as.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The address and port of this end of the TCP connection (the responder's side).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.stream.local_addr()
    }

    /// The address and port connected to (the target's SSH server).
    pub fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    /// The SSH session, for modules of this crate that run commands of their own
    /// (containment's actuator); collection goes through the `Host` implementation only.
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// The time limit of each operation outside commands.
    pub(crate) fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    /// The last listings (a poisoned lock only means a panic elsewhere: the listings are
    /// whole either way).
    fn listed(&self) -> MutexGuard<'_, Listed> {
        self.listed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the session politely.
    pub fn close(self) {
        let _ = self
            .session
            .disconnect(None, "dossier collection finished", None);
    }
}

impl Host for SshHost {
    fn info(&self) -> HostInfo {
        HostInfo {
            kind: HostKind::Ssh,
            label: self.target.label(),
            live: true,
            can_exec: true,
            own_pids: Vec::new(),
        }
    }

    /// Times the SFTP client waited for the server so far: requests sent together (a
    /// file's READs in flight, an FSTAT with the READ that ends a file, two READDIRs of a
    /// listing) count once, and CLOSE is not waited for. A small file costs three waits
    /// (`stat`, open, then its data, end and metadata after), a listing two.
    fn round_trips(&self) -> Option<u64> {
        Some(lock(&self.client).waits())
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        if let Some(a) = self.listed().lookup(path, false) {
            return Ok(meta_from_attrs(a));
        }
        lock(&self.client)
            .lstat(path_bytes(path))
            .map(|a| meta_from_attrs(&a))
            .map_err(|e| client_error(e, path, ""))
    }

    fn lstat_many(&self, paths: &[PathBuf]) -> Vec<Result<FileMeta, HostError>> {
        // What the last listings answer, then the rest asked for together.
        let mut out: Vec<Option<Result<FileMeta, HostError>>> = {
            let listed = self.listed();
            paths
                .iter()
                .map(|p| listed.lookup(p, false).map(|a| Ok(meta_from_attrs(a))))
                .collect()
        };
        let ask: Vec<&PathBuf> = paths
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(p, _)| p)
            .collect();
        let bytes: Vec<&[u8]> = ask.iter().map(|p| path_bytes(p)).collect();
        let mut answers = lock(&self.client).lstats(&bytes).into_iter().zip(ask);
        for o in out.iter_mut().filter(|o| o.is_none()) {
            *o = answers.next().map(|(a, p)| {
                a.map(|a| meta_from_attrs(&a))
                    .map_err(|e| client_error(e, p, ""))
            });
        }
        out.into_iter()
            .zip(paths)
            .map(|(o, p)| {
                o.unwrap_or_else(|| {
                    Err(HostError::new(HostErrorKind::Other, p, "lstat: no answer"))
                })
            })
            .collect()
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        if let Some(a) = self.listed().lookup(path, true) {
            return Ok(meta_from_attrs(a));
        }
        lock(&self.client)
            .stat(path_bytes(path))
            .map(|a| meta_from_attrs(&a))
            .map_err(|e| client_error(e, path, ""))
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.read_links(&[path.to_path_buf()]).remove(0)
    }

    fn read_links(&self, paths: &[PathBuf]) -> Vec<Result<PathBuf, HostError>> {
        // lstat and readlink of every path sent together: one wait.
        let bytes: Vec<&[u8]> = paths.iter().map(|p| path_bytes(p)).collect();
        let answers = lock(&self.client).lstat_readlinks(&bytes);
        answers
            .into_iter()
            .zip(paths)
            .map(|((m, target), path)| {
                let m = m.map_err(|e| client_error(e, path, ""))?;
                if FileKind::from_mode(m.perm.unwrap_or(0)) != FileKind::Symlink {
                    return Err(HostError::new(HostErrorKind::Other, path, "not a symlink"));
                }
                target
                    .map(|b| PathBuf::from(OsString::from_vec(b)))
                    .map_err(|e| client_error(e, path, "readlink"))
            })
            .collect()
    }

    fn xattr(&self, path: &Path, _name: &str) -> Result<Option<Vec<u8>>, HostError> {
        // SFTP version 3 has no request for extended attributes, and reading them otherwise
        // would mean running a program on the target.
        Err(HostError::new(
            HostErrorKind::Unsupported,
            path,
            "extended attributes (file capabilities) are not available over SFTP",
        ))
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let r = lock(&self.client).read_dir(path_bytes(path));
        r.map(|v| {
            self.listed().note(path, &v);
            entries(v)
        })
        .map_err(|e| client_error(e, path, "readdir"))
    }

    fn read_dirs(&self, paths: &[PathBuf]) -> Vec<Result<Vec<DirEntry>, HostError>> {
        let bytes: Vec<&[u8]> = paths.iter().map(|p| path_bytes(p)).collect();
        let lists = lock(&self.client).read_dirs(&bytes);
        lists
            .into_iter()
            .zip(paths)
            // Not kept for `lstat` (see `listed`): a batch is a walk's, which looks at few
            // entries again, and keeping its thousands of names cost more than it saved.
            .map(|(r, path)| r.map(entries).map_err(|e| client_error(e, path, "readdir")))
            .collect()
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        let f = self
            .open_batch(std::slice::from_ref(&path.to_path_buf()))
            .remove(0)?;
        Ok(Box::new(f))
    }

    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        let mut f = self.open_batch(&[path.to_path_buf()]).remove(0)?;
        self.read_open(&mut f, path, limit)
    }

    fn read_many(&self, paths: &[PathBuf], limit: u64) -> Vec<Result<ReadOutcome, HostError>> {
        let mut out = Vec::with_capacity(paths.len());
        for batch in paths.chunks(READ_BATCH) {
            let files = self.open_batch(batch);
            for (f, path) in files.into_iter().zip(batch) {
                out.push(f.and_then(|mut f| self.read_open(&mut f, path, limit)));
            }
        }
        out
    }

    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        let path = Path::new(exec_program(argv)?);
        let cmd = command_line(argv, self.sudo);
        self.session.set_timeout(ms(limits.timeout));
        let r = self.exec_inner(&cmd, limits, path);
        self.session.set_timeout(ms(self.op_timeout));
        r
    }
}

/// Files opened and read together, at most (their STATs, OPENs, FSTATs and first READs
/// each sent in one batch).
const READ_BATCH: usize = 32;
/// Bytes of a batch's files asked for before their turn (the others' READs are sent when
/// they are read): the bound of what waits in memory.
const BATCH_AHEAD: u64 = 2 << 20;

/// `m`, when it is a regular file's; opening anything else is refused (opening a FIFO would
/// block the server's SFTP process).
fn regular(path: &Path, m: FileMeta) -> Result<FileMeta, HostError> {
    if m.kind == FileKind::File {
        return Ok(m);
    }
    Err(HostError::new(
        HostErrorKind::NotRegular,
        path,
        format!("{} refused: not a regular file (not opened)", m.kind.name()),
    ))
}

/// Directory entries from a listing's names and attributes (`.` and `..` left out).
fn entries(v: Vec<(Vec<u8>, crate::sftp_client::Attrs)>) -> Vec<DirEntry> {
    v.into_iter()
        .filter(|(name, _)| name != b"." && name != b".." && !name.is_empty())
        .map(|(name, a)| DirEntry {
            name: OsString::from_vec(name),
            kind: a.perm.map(FileKind::from_mode),
            mode: a.perm.map(|p| p & 0o7777),
        })
        .collect()
}

impl SshHost {
    /// Opens `paths` together: their STATs sent in one batch (a file that is not regular is
    /// refused unopened), then the OPENs of the regular ones, then each one's FSTAT with its
    /// first READs (sized by the stat; within [`BATCH_AHEAD`] for the batch). A file whose
    /// FSTAT differs from its STAT in type, owner or mode was replaced in between: refused,
    /// and its data dropped unread.
    fn open_batch(&self, paths: &[PathBuf]) -> Vec<Result<SftpFile, HostError>> {
        let mut c = lock(&self.client);
        let stats: Vec<_> = paths.iter().map(|p| c.send_stat(path_bytes(p))).collect();
        let probes: Vec<Result<FileMeta, HostError>> = stats
            .into_iter()
            .zip(paths)
            .map(|(id, p)| {
                let a = id.and_then(|id| c.attrs_answer(id));
                regular(p, meta_from_attrs(&a.map_err(|e| client_error(e, p, ""))?))
            })
            .collect();
        let opens: Vec<_> = probes
            .into_iter()
            .zip(paths)
            .map(|(m, p)| m.map(|m| (c.send_open(path_bytes(p)), m)))
            .collect();
        // Every handle first (the OPENs' answers come together), then the FSTATs and first
        // READs of all sent together: taking a handle while the previous file's requests
        // wait in the queue would send them on their own, a round trip per file.
        let handles: Vec<_> = opens
            .into_iter()
            .zip(paths)
            .map(|(o, p)| {
                o.and_then(|(id, probe)| {
                    id.and_then(|id| c.handle_answer(id))
                        .map(|h| (h, probe))
                        .map_err(|e| client_error(e, p, "open"))
                })
            })
            .collect();
        let mut ahead = 0u64;
        let mut started = Vec::with_capacity(paths.len());
        for (o, p) in handles.into_iter().zip(paths) {
            started.push(o.and_then(|(h, probe)| {
                let mut reader = ReadAhead::new(h, probe.size);
                let mut fstat = c.send_fstat(reader.handle());
                if fstat.is_ok() && ahead < BATCH_AHEAD {
                    ahead += probe.size.min(u64::from(WINDOW_BYTES));
                    fstat = fstat.and_then(|id| reader.start(&mut c).map(|()| id));
                }
                match fstat {
                    Ok(id) => Ok((reader, probe, id)),
                    Err(e) => {
                        let _ = reader.close(&mut c);
                        Err(client_error(e, p, "fstat"))
                    }
                }
            }));
        }
        started
            .into_iter()
            .zip(paths)
            .map(|(s, p)| {
                let (reader, probe, id) = s?;
                let st = match c.attrs_answer(id) {
                    Ok(a) => meta_from_attrs(&a),
                    Err(e) => {
                        let _ = reader.close(&mut c);
                        return Err(client_error(e, p, "fstat"));
                    }
                };
                if st.kind != FileKind::File || st.uid != probe.uid || st.mode != probe.mode {
                    let _ = reader.close(&mut c);
                    return Err(HostError::new(
                        HostErrorKind::NotRegular,
                        p,
                        "file was replaced while it was being opened; not read",
                    ));
                }
                Ok(SftpFile {
                    client: self.client.clone(),
                    reader: Some(reader),
                    meta: st,
                    counter: self.bytes_read.clone(),
                })
            })
            .collect()
    }

    /// Reads at most `limit` bytes of an open file, with its metadata after the read.
    fn read_open(
        &self,
        f: &mut SftpFile,
        path: &Path,
        limit: u64,
    ) -> Result<ReadOutcome, HostError> {
        let meta = f.meta().clone();
        let mut data = Vec::with_capacity(meta.size.min(limit).min(16 << 20) as usize);
        let mut chunk = vec![0u8; 64 << 10];
        let mut truncated = false;
        loop {
            let n = f
                .read(&mut chunk)
                .map_err(|e| io_error(e, path, &self.session))?;
            if n == 0 {
                break;
            }
            let room = (limit - data.len() as u64) as usize;
            if n > room {
                data.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            if data.len() as u64 == limit {
                let mut probe = [0u8; 1];
                truncated = f
                    .read(&mut probe)
                    .map_err(|e| io_error(e, path, &self.session))?
                    > 0;
                break;
            }
        }
        let after = f.meta_now().ok();
        Ok(ReadOutcome::new(data, truncated, meta, after))
    }

    fn exec_inner(
        &self,
        cmd: &str,
        limits: &ExecLimits,
        path: &Path,
    ) -> Result<ExecOutput, HostError> {
        let deadline = Instant::now() + limits.timeout;
        let mut ch = self
            .session
            .channel_session()
            .map_err(|e| sftp_error(e, path, "exec channel"))?;
        ch.exec(cmd).map_err(|e| sftp_error(e, path, "exec"))?;
        let mut out = ExecOutput::default();
        let mut buf = vec![0u8; 64 << 10];
        let mut timed_out = false;
        // stdout first (capped, the rest drained), then stderr: both are small for the
        // commands collectors run, and libssh2 queues the other stream meanwhile.
        loop {
            match ch.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    let room = (limits.max_output as usize).saturating_sub(out.stdout.len());
                    out.stdout.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        out.truncated = true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    timed_out = true;
                    break;
                }
                Err(e) => return Err(io_error(e, path, &self.session)),
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
        }
        if !timed_out {
            let mut err = ch.stderr();
            let _ = Read::by_ref(&mut err)
                .take(64 << 10)
                .read_to_end(&mut out.stderr)
                .map_err(|e| io_error(e, path, &self.session));
            // exit_status() says 0 when no exit-status message came: trust it only after a
            // clean close.
            if ch.wait_close().is_ok() {
                out.status = ch.exit_status().ok();
            }
            if ch.exit_signal().ok().and_then(|s| s.exit_signal).is_some() {
                out.status = None;
            }
        } else {
            let _ = ch.close();
        }
        out.timed_out = timed_out;
        Ok(out)
    }
}
