//! In-memory test doubles: a [`MemHost`] file tree and a [`MemSink`] that keeps what a
//! collector stored. For unit tests of collectors (built in or plugins); nothing here touches
//! the real file system.

use crate::collect::{
    CollectContext, Collector, CopyError, EvidenceSink, Issue, MemberRef, PriorRecords, RawCopy,
    RawSource,
};
use crate::encoding::{hex, path_to_text};
use crate::host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, HostKind,
};
use crate::time::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Debug)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(PathBuf),
    Special(FileKind),
}

#[derive(Clone, Debug)]
struct Entry {
    node: Node,
    mode: u32,
    uid: u32,
    mtime: i64,
    inode: u64,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// An in-memory file tree that implements [`Host`].
#[derive(Clone, Debug)]
pub struct MemHost {
    entries: BTreeMap<PathBuf, Entry>,
    live: bool,
    commands: HashMap<Vec<String>, ExecOutput>,
    next_inode: u64,
    denied: Vec<PathBuf>,
    own_pids: Vec<u32>,
}

impl MemHost {
    /// An empty tree with only `/`. `live` says whether it poses as a running system.
    pub fn new(live: bool) -> Self {
        let mut h = MemHost {
            entries: BTreeMap::new(),
            live,
            commands: HashMap::new(),
            next_inode: 2,
            denied: Vec::new(),
            own_pids: Vec::new(),
        };
        h.put(Path::new("/"), Node::Dir, 0o755);
        h
    }

    /// Says that process `pid` is the collection itself ([`HostInfo::own_pids`]).
    pub fn own_pid(mut self, pid: u32) -> Self {
        self.own_pids.push(pid);
        self
    }

    fn put(&mut self, path: &Path, node: Node, mode: u32) {
        if let Some(parent) = path.parent() {
            if parent != path && !self.entries.contains_key(parent) {
                self.put(parent, Node::Dir, 0o755);
            }
        }
        self.next_inode += 1;
        let e = Entry {
            node,
            mode,
            uid: 0,
            mtime: 1_700_000_000,
            inode: self.next_inode,
            xattrs: BTreeMap::new(),
        };
        self.entries.insert(path.to_path_buf(), e);
    }

    /// Adds a regular file (mode 0644).
    pub fn file(mut self, path: &str, data: impl AsRef<[u8]>) -> Self {
        self.put(Path::new(path), Node::File(data.as_ref().to_vec()), 0o644);
        self
    }

    /// Adds a regular file with a byte-string path (non-UTF-8 names).
    pub fn file_bytes_path(mut self, path: &[u8], data: impl AsRef<[u8]>) -> Self {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(path)).to_path_buf();
        self.put(&p, Node::File(data.as_ref().to_vec()), 0o644);
        self
    }

    /// Adds an executable file (mode 0755).
    pub fn exe(mut self, path: &str, data: impl AsRef<[u8]>) -> Self {
        self.put(Path::new(path), Node::File(data.as_ref().to_vec()), 0o755);
        self
    }

    /// Adds a directory.
    pub fn dir(mut self, path: &str) -> Self {
        self.put(Path::new(path), Node::Dir, 0o755);
        self
    }

    /// Adds a symlink.
    pub fn link(mut self, path: &str, target: &str) -> Self {
        self.put(Path::new(path), Node::Link(PathBuf::from(target)), 0o777);
        self
    }

    /// Adds a FIFO, socket or device node.
    pub fn special(mut self, path: &str, kind: FileKind) -> Self {
        self.put(Path::new(path), Node::Special(kind), 0o644);
        self
    }

    /// Sets the owner uid of an existing entry.
    pub fn owner(mut self, path: &str, uid: u32) -> Self {
        if let Some(e) = self.entries.get_mut(Path::new(path)) {
            e.uid = uid;
        }
        self
    }

    /// Sets the permission bits (setuid, setgid and sticky included) of an existing entry.
    pub fn mode(mut self, path: &str, mode: u32) -> Self {
        if let Some(e) = self.entries.get_mut(Path::new(path)) {
            e.mode = mode & 0o7777;
        }
        self
    }

    /// Sets the modification time (Unix seconds) of an existing entry.
    pub fn mtime(mut self, path: &str, secs: i64) -> Self {
        if let Some(e) = self.entries.get_mut(Path::new(path)) {
            e.mtime = secs;
        }
        self
    }

    /// Sets an extended attribute of an existing entry.
    pub fn xattr(mut self, path: &str, name: &str, value: &[u8]) -> Self {
        if let Some(e) = self.entries.get_mut(Path::new(path)) {
            e.xattrs.insert(name.to_string(), value.to_vec());
        }
        self
    }

    /// Makes reads of `path` fail with "permission denied".
    pub fn deny(mut self, path: &str) -> Self {
        self.denied.push(PathBuf::from(path));
        self
    }

    /// Answers `argv` with `stdout` and exit status 0.
    pub fn command(mut self, argv: &[&str], stdout: &str) -> Self {
        let out = ExecOutput {
            status: Some(0),
            stdout: stdout.as_bytes().to_vec(),
            ..Default::default()
        };
        self.commands
            .insert(argv.iter().map(|s| s.to_string()).collect(), out);
        self
    }

    fn err(kind: HostErrorKind, path: &Path, msg: &str) -> HostError {
        HostError::new(kind, path, msg)
    }

    /// Resolves `path` following symlinks in every component (the last one only if `follow`).
    fn resolve(&self, path: &Path, follow: bool) -> Result<PathBuf, HostError> {
        let mut todo: Vec<OsString> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect();
        todo.reverse();
        let mut cur = PathBuf::from("/");
        let mut hops = 0;
        while let Some(name) = todo.pop() {
            if name == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&name);
            let e = self.entries.get(&next).ok_or_else(|| {
                Self::err(HostErrorKind::NotFound, path, "no such file or directory")
            })?;
            match &e.node {
                Node::Link(t) if follow || !todo.is_empty() => {
                    hops += 1;
                    if hops > 40 {
                        return Err(Self::err(
                            HostErrorKind::Loop,
                            path,
                            "too many levels of symbolic links",
                        ));
                    }
                    if t.is_absolute() {
                        cur = PathBuf::from("/");
                    }
                    let mut parts: Vec<OsString> = t
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(s) => Some(s.to_os_string()),
                            Component::ParentDir => Some(OsString::from("..")),
                            _ => None,
                        })
                        .collect();
                    parts.reverse();
                    todo.extend(parts);
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    fn meta_of(e: &Entry, len: u64) -> FileMeta {
        let kind = match &e.node {
            Node::File(_) => FileKind::File,
            Node::Dir => FileKind::Dir,
            Node::Link(_) => FileKind::Symlink,
            Node::Special(k) => *k,
        };
        let t = Timestamp::from_unix(e.mtime, 0);
        FileMeta {
            kind,
            mode: e.mode,
            uid: e.uid,
            gid: 0,
            size: len,
            nlink: Some(1),
            mtime: t,
            ctime: t,
            atime: t,
            dev: Some(1),
            inode: Some(e.inode),
        }
    }

    fn entry(&self, path: &Path, follow: bool) -> Result<(PathBuf, &Entry), HostError> {
        let p = self.resolve(path, follow)?;
        let e = self
            .entries
            .get(&p)
            .ok_or_else(|| Self::err(HostErrorKind::NotFound, path, "no such file or directory"))?;
        Ok((p, e))
    }

    fn len(e: &Entry) -> u64 {
        match &e.node {
            Node::File(d) => d.len() as u64,
            Node::Link(t) => t.as_os_str().len() as u64,
            _ => 0,
        }
    }
}

struct MemReader {
    data: std::io::Cursor<Vec<u8>>,
    meta: FileMeta,
}

impl Read for MemReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.data.read(buf)
    }
}

impl FileReader for MemReader {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        Ok(self.meta.clone())
    }
}

impl Host for MemHost {
    fn info(&self) -> HostInfo {
        HostInfo {
            kind: if self.live {
                HostKind::Local
            } else {
                HostKind::Image
            },
            label: "memory".into(),
            live: self.live,
            can_exec: !self.commands.is_empty(),
            own_pids: self.own_pids.clone(),
        }
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        let (_, e) = self.entry(path, false)?;
        Ok(Self::meta_of(e, Self::len(e)))
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        let (_, e) = self.entry(path, true)?;
        Ok(Self::meta_of(e, Self::len(e)))
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        match &self.entry(path, false)?.1.node {
            Node::Link(t) => Ok(t.clone()),
            _ => Err(Self::err(HostErrorKind::Other, path, "not a symlink")),
        }
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let (p, e) = self.entry(path, true)?;
        if !matches!(e.node, Node::Dir) {
            return Err(Self::err(
                HostErrorKind::NotADirectory,
                path,
                "not a directory",
            ));
        }
        if self.denied.iter().any(|d| d == &p) {
            return Err(Self::err(
                HostErrorKind::PermissionDenied,
                path,
                "permission denied",
            ));
        }
        Ok(self
            .entries
            .range(p.clone()..)
            .skip(1)
            .take_while(|(k, _)| k.starts_with(&p))
            .filter(|(k, _)| k.parent() == Some(p.as_path()))
            .map(|(k, e)| DirEntry {
                name: k.file_name().unwrap_or_default().to_os_string(),
                kind: Some(Self::meta_of(e, 0).kind),
                mode: Some(e.mode),
            })
            .collect())
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        let (p, e) = self.entry(path, true)?;
        if self.denied.iter().any(|d| d == &p) {
            return Err(Self::err(
                HostErrorKind::PermissionDenied,
                path,
                "permission denied",
            ));
        }
        match &e.node {
            Node::File(d) => Ok(Box::new(MemReader {
                data: std::io::Cursor::new(d.clone()),
                meta: Self::meta_of(e, d.len() as u64),
            })),
            other => {
                let kind = Self::meta_of(
                    &Entry {
                        node: other.clone(),
                        ..e.clone()
                    },
                    0,
                )
                .kind;
                Err(Self::err(
                    HostErrorKind::NotRegular,
                    path,
                    &format!("{} refused: not a regular file", kind.name()),
                ))
            }
        }
    }

    fn xattr(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        let (_, e) = self.entry(path, false)?;
        Ok(e.xattrs.get(name).cloned())
    }

    fn exec(&self, argv: &[&str], _limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        if !self.live {
            return Err(HostError::unsupported("exec"));
        }
        let key: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.commands.get(&key).cloned().ok_or_else(|| {
            HostError::general(
                HostErrorKind::NotFound,
                format!("{}: command not found", argv.join(" ")),
            )
        })
    }
}

/// Keeps what collectors stored, for assertions.
#[derive(Debug, Default)]
pub struct MemSink {
    /// Raw members by name: (source, data).
    pub raw: BTreeMap<String, (RawSource, Vec<u8>)>,
    /// Records by collector.
    pub records: BTreeMap<String, Vec<serde_json::Value>>,
    pub issues: Vec<(String, Issue)>,
    pub logs: Vec<(String, String)>,
}

impl MemSink {
    /// Member name for a host path.
    pub fn member_name(path: &str) -> String {
        format!(
            "raw{}",
            if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            }
        )
    }

    /// Records of `collector` with the given `kind`.
    pub fn of_kind(&self, collector: &str, kind: &str) -> Vec<serde_json::Value> {
        self.records
            .get(collector)
            .into_iter()
            .flatten()
            .filter(|r| r["kind"] == kind)
            .cloned()
            .collect()
    }

    /// Issues whose subject contains `needle`.
    pub fn issues_about(&self, needle: &str) -> Vec<&Issue> {
        self.issues
            .iter()
            .map(|(_, i)| i)
            .filter(|i| i.subject.contains(needle))
            .collect()
    }
}

impl EvidenceSink for MemSink {
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String> {
        let name = Self::member_name(&source.path);
        let sha = hex(&Sha256::digest(data));
        self.raw
            .insert(name.clone(), (source.clone(), data.to_vec()));
        Ok(MemberRef {
            name,
            sha256: sha,
            size: data.len() as u64,
        })
    }

    fn copy_raw(&mut self, host: &dyn Host, path: &Path, limit: u64) -> Result<RawCopy, CopyError> {
        let out = host.read(path, limit).map_err(CopyError::Host)?;
        let source = RawSource {
            path: path_to_text(path),
            meta: Some(out.meta.clone()),
            meta_after: out.meta_after.clone(),
            truncated: out.truncated,
            changed_during_read: out.changed_during_read,
        };
        let member = self
            .store_raw(&source, &out.data)
            .map_err(CopyError::Sink)?;
        Ok(RawCopy { member, source })
    }

    fn record(&mut self, collector: &str, record: serde_json::Value) -> Result<(), String> {
        self.records
            .entry(collector.to_string())
            .or_default()
            .push(record);
        Ok(())
    }

    fn issue(&mut self, collector: &str, issue: Issue) {
        self.issues.push((collector.to_string(), issue));
    }

    fn log(&mut self, collector: &str, message: &str) {
        self.logs.push((collector.to_string(), message.to_string()));
    }
}

/// Runs one collector against `host` with `config` and earlier collectors' records.
pub fn run_collector(
    collector: &dyn Collector,
    host: &dyn Host,
    config: serde_json::Value,
    prior: &PriorRecords,
) -> (MemSink, Result<(), crate::collect::CollectError>) {
    let mut sink = MemSink::default();
    let mut cache = HashMap::new();
    let name = collector.info().name;
    let result = {
        let mut ctx = CollectContext::new(&name, host, &mut sink, &config, prior, &mut cache);
        collector.collect(&mut ctx)
    };
    (sink, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_host_resolves_links_and_refuses_specials() {
        let h = MemHost::new(false)
            .file("/usr/lib/systemd/system/a.service", "[Unit]\n")
            .link("/lib", "usr/lib")
            .link("/loop", "/loop")
            .special("/etc/crontab", FileKind::Fifo);
        assert_eq!(
            h.read(Path::new("/lib/systemd/system/a.service"), 100)
                .unwrap()
                .data,
            b"[Unit]\n"
        );
        assert_eq!(h.lstat(Path::new("/lib")).unwrap().kind, FileKind::Symlink);
        assert_eq!(h.stat(Path::new("/lib")).unwrap().kind, FileKind::Dir);
        assert_eq!(
            h.open(Path::new("/loop")).err().unwrap().kind,
            HostErrorKind::Loop
        );
        assert_eq!(
            h.open(Path::new("/etc/crontab")).err().unwrap().kind,
            HostErrorKind::NotRegular
        );
        let names: Vec<_> = h
            .read_dir(Path::new("/lib/systemd/system"))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![OsString::from("a.service")]);
    }

    #[test]
    fn read_caps_and_flags_truncation() {
        let h = MemHost::new(false).file("/big", vec![b'x'; 100]);
        let r = h.read(Path::new("/big"), 10).unwrap();
        assert_eq!(r.data.len(), 10);
        assert!(r.truncated);
        let r = h.read(Path::new("/big"), 100).unwrap();
        assert!(!r.truncated);
        let hash = h.hash_file(Path::new("/big"), 1 << 20).unwrap();
        assert_eq!(hash.bytes, 100);
        assert_eq!(hash.sha256, hex(&Sha256::digest([b'x'; 100])));
    }
}
