//! Reads and verifies bundles, treating every bundle as untrusted input.
//!
//! [`verify`] checks, and names exactly what differs:
//! - the whole file against `<bundle>.sha256` (so a flipped byte anywhere, even in zip
//!   headers no member hash covers, fails);
//! - the zip structure (truncation, duplicate, unsafe or symlink entries, unknown compression);
//! - the manifest (present, bounded size, known format and version, well-formed);
//! - every member against the manifest (listed, size, SHA-256 recomputed from the content) and
//!   every manifest entry against the zip (missing members).
//!
//! Memory stays bounded whatever the bundle claims: members are streamed through the hash,
//! never read beyond the size the manifest lists, and declared sizes that deflate cannot
//! produce from the stored bytes are refused without decompressing. Nothing is extracted.
//! [`Bundle`] gives analyzers verified access to records and members.

use crate::manifest::{FORMAT, FORMAT_VERSION, MANIFEST_NAME, Manifest, MemberEntry};
use crate::names::unsafe_name;
use dossier_plugin_api::encoding::{hex, is_sha256_hex};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use zip::ZipArchive;

/// Limits for untrusted bundles.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest manifest read (it is held in memory and parsed whole).
    pub max_manifest: u64,
    /// Most entries in the zip.
    pub max_entries: usize,
    /// Most bytes decompressed over all members.
    pub max_total: u64,
    /// Most bytes of records loaded for analysis from one bundle (all collectors together).
    pub max_record_bytes: u64,
    /// Most JSON values (counted from the text, an upper bound) loaded for analysis from one
    /// bundle: bounds memory whatever shape the records have (`[0,0,0,...]` costs 32 bytes of
    /// memory per 2 bytes of text).
    pub max_record_values: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A manifest lists ~300 bytes per member: 64 MiB is some 200,000 members.
            max_manifest: 64 << 20,
            max_entries: 2_000_000,
            max_total: 64 << 30,
            // A large server's records are a few tens of MB and well under a million values.
            max_record_bytes: 128 << 20,
            max_record_values: 2_000_000,
        }
    }
}

/// Largest bundle read whole into memory for analysis (see [`Source`]).
const IN_MEMORY_MAX: u64 = 16 << 20;

/// What a bundle's zip is read from: the open file, or (bundles up to [`IN_MEMORY_MAX`]
/// opened for analysis) its bytes read once, hashed and checked in memory.
enum Source {
    File(BufReader<File>),
    Memory(std::io::Cursor<Shared>),
}

/// A bundle's bytes, shared between the archive reader and the central-directory check.
#[derive(Clone)]
struct Shared(std::sync::Arc<[u8]>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Memory(m) => m.read(buf),
        }
    }
}

impl std::io::Seek for Source {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Source::File(f) => f.seek(pos),
            Source::Memory(m) => m.seek(pos),
        }
    }
}

/// Deflate cannot expand more than about 1032:1; a larger declared ratio is a lie.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// What it concerns: `bundle`, `sidecar`, `manifest`, or a member name.
    pub subject: String,
    pub message: String,
}

/// The outcome of [`verify`].
#[derive(Debug)]
pub struct Verification {
    pub path: PathBuf,
    /// SHA-256 of the bundle file as read now.
    pub sha256: Option<String>,
    pub size: u64,
    pub members_checked: usize,
    pub manifest: Option<Manifest>,
    pub problems: Vec<Problem>,
}

impl Verification {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            subject: subject.into(),
            message: message.into(),
        });
    }
}

/// Path of the sidecar checksum file of a bundle.
pub fn sidecar_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".sha256");
    PathBuf::from(s)
}

fn hash_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    // `io::copy` reads through an uninitialised stack buffer: no per-call allocation or
    // zeroing (a zeroed 1 MiB buffer per member was a fifth of analysis time).
    let mut w = HashingWriter(Sha256::new());
    let total = std::io::copy(&mut r, &mut w)?;
    Ok((hex(&w.0.finalize()), total))
}

/// Hashes what is written to it.
struct HashingWriter(Sha256);

impl std::io::Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens a bundle file for reading: a regular file, not a FIFO or device.
fn open_regular(path: &Path) -> Result<(File, u64), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    Ok((f, meta.len()))
}

/// Parses a `sha256sum`-format line: `<64 hex>  <name>`.
fn parse_sidecar(text: &str) -> Option<(String, String)> {
    let line = text.lines().next()?;
    let (digest, rest) = line.split_once(' ')?;
    let name = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('*'))
        .unwrap_or(rest);
    is_sha256_hex(digest).then(|| (digest.to_ascii_lowercase(), name.to_string()))
}

/// Verifies a bundle (see the module documentation).
pub fn verify(path: &Path, limits: &Limits) -> Verification {
    verify_keeping(path, limits, None).0
}

/// Member content verified during [`verify_keeping`] and kept for analysis, so it is neither
/// decompressed nor hashed a second time: the records members (within
/// [`Limits::max_record_bytes`]) and small members (each at most [`KEEP_MEMBER`] bytes, at most
/// [`KEEP_SMALL`] bytes together), each kept only once its SHA-256 matched the manifest.
#[derive(Default)]
struct Kept {
    members: HashMap<String, Vec<u8>>,
    records_left: u64,
    small_left: u64,
}

/// Largest member other than records kept from verification (executable copies read by the
/// miner-string scan, raw copies of units and scripts).
const KEEP_MEMBER: u64 = 1 << 20;
/// Most bytes of such members kept per bundle.
const KEEP_SMALL: u64 = 16 << 20;

impl Kept {
    fn new(limits: &Limits) -> Kept {
        Kept {
            members: HashMap::new(),
            records_left: limits.max_record_bytes,
            small_left: KEEP_SMALL,
        }
    }

    /// Whether to keep the content of a member of `size` bytes, charging it to its budget.
    fn take_budget(&mut self, name: &str, size: u64) -> bool {
        let budget = if name.starts_with("records/") && name.ends_with(".jsonl") {
            &mut self.records_left
        } else if size <= KEEP_MEMBER {
            &mut self.small_left
        } else {
            return false;
        };
        if size > *budget {
            return false;
        }
        *budget -= size;
        true
    }
}

/// [`verify`], also giving the zip archive it read (on the file it hashed) and, with `keep`,
/// the verified content of the members worth keeping for analysis ([`Kept`]).
fn verify_keeping(
    path: &Path,
    limits: &Limits,
    keep: Option<&mut Kept>,
) -> (Verification, Option<ZipArchive<Source>>) {
    let mut v = Verification {
        path: path.to_path_buf(),
        sha256: None,
        size: 0,
        members_checked: 0,
        manifest: None,
        problems: Vec::new(),
    };
    // One open file for every pass: the path cannot be swapped between hashing and checking.
    let (file, mut size) = match open_regular(path) {
        Ok(x) => x,
        Err(e) => {
            v.problem("bundle", e);
            return (v, None);
        }
    };
    v.size = size;
    let handle = |f: &File| f.try_clone().map_err(|e| format!("cannot reopen: {e}"));
    // A bundle that is small enough (and only when keeping content for analysis) is read
    // once into memory: the bytes hashed are the bytes checked and analyzed, with no further
    // reads or seeks on the file.
    let mut bytes: Option<Shared> = None;
    let source = if keep.is_some() && size <= IN_MEMORY_MAX {
        let mut data = Vec::with_capacity(size as usize);
        match handle(&file).and_then(|f| {
            f.take(IN_MEMORY_MAX + 1)
                .read_to_end(&mut data)
                .map_err(|e| format!("read failed: {e}"))
        }) {
            Ok(_) => {
                v.sha256 = Some(hex(&Sha256::digest(&data)));
                // What was read is what is checked, even if the file changed size meanwhile.
                size = data.len() as u64;
                v.size = size;
                let shared = Shared(data.into());
                bytes = Some(shared.clone());
                Ok(Source::Memory(std::io::Cursor::new(shared)))
            }
            Err(e) => Err(e),
        }
    } else {
        match handle(&file).and_then(|f| {
            hash_reader(BufReader::with_capacity(1 << 20, f))
                .map_err(|e| format!("read failed: {e}"))
        }) {
            Ok((sha, _)) => v.sha256 = Some(sha),
            Err(e) => v.problem("bundle", e),
        }
        handle(&file).map(|f| Source::File(BufReader::new(f)))
    };
    check_sidecar(&mut v, path);
    let zip = source.and_then(|src| {
        ZipArchive::new(src)
            .map_err(|e| format!("not a readable zip archive (truncated or corrupt): {e}"))
    });
    let mut zip = match zip {
        Ok(z) => z,
        Err(e) => {
            v.problem("bundle", e);
            return (v, None);
        }
    };
    check_archive(&mut v, &mut zip, limits, keep);
    let cd = match bytes {
        Some(b) => central_directory_names(std::io::Cursor::new(b), size, limits.max_entries),
        None => central_directory_names(file, size, limits.max_entries),
    };
    match cd {
        Ok(Some(names)) => {
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for n in &names {
                *count.entry(n.as_str()).or_default() += 1;
            }
            for (n, c) in count.into_iter().filter(|(_, c)| *c > 1) {
                v.problem(n, format!("appears {c} times in the zip's central directory (duplicate member names: tools may show different content under one name)"));
            }
        }
        Ok(None) => {}
        Err(e) => v.problem("bundle", format!("central directory: {e}")),
    }
    (v, Some(zip))
}

/// Names in the central directory exactly as listed, duplicates included (the zip crate's
/// archive view keeps one entry per name). `None` for zip64 archives, which dossier writes only
/// for members over 4 GiB; the crate's own checks cover those.
fn central_directory_names(
    mut f: impl Read + std::io::Seek,
    len: u64,
    max_entries: usize,
) -> Result<Option<Vec<String>>, String> {
    use std::io::SeekFrom;
    let tail_len = len.min(22 + 65535);
    f.seek(SeekFrom::Start(len - tail_len))
        .map_err(|e| e.to_string())?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).map_err(|e| e.to_string())?;
    let Some(pos) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
    else {
        return Err("no end-of-central-directory record".into());
    };
    let eocd = &tail[pos..];
    let le16 = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64;
    let (entries, cd_size, cd_offset) = (le16(eocd, 10), le32(eocd, 12), le32(eocd, 16));
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Ok(None);
    }
    if entries as usize > max_entries || cd_offset.saturating_add(cd_size) > len {
        return Err("end record points outside the file".into());
    }
    f.seek(SeekFrom::Start(cd_offset))
        .map_err(|e| e.to_string())?;
    let mut cd = vec![0u8; cd_size as usize];
    f.read_exact(&mut cd).map_err(|e| e.to_string())?;
    let mut names = Vec::with_capacity(entries as usize);
    let mut at = 0usize;
    for _ in 0..entries {
        if at + 46 > cd.len() || cd[at..at + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(format!(
                "entry {} of {entries} is not a central directory header",
                names.len() + 1
            ));
        }
        let (n, x, c) = (
            le16(&cd, at + 28) as usize,
            le16(&cd, at + 30) as usize,
            le16(&cd, at + 32) as usize,
        );
        let name = cd
            .get(at + 46..at + 46 + n)
            .ok_or("central directory entry runs past its end")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + n + x + c;
    }
    Ok(Some(names))
}

fn check_sidecar(v: &mut Verification, path: &Path) {
    let side = sidecar_path(path);
    let text = match std::fs::metadata(&side) {
        Ok(m) if m.is_file() && m.len() <= 4096 => {
            std::fs::read_to_string(&side).map_err(|e| e.to_string())
        }
        Ok(_) => Err("not a small regular file".into()),
        Err(e) => Err(e.to_string()),
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            v.problem(
                "sidecar",
                format!(
                    "{}: {e}; the bundle file as a whole cannot be checked",
                    side.display()
                ),
            );
            return;
        }
    };
    let Some((digest, name)) = parse_sidecar(&text) else {
        v.problem(
            "sidecar",
            format!("{} is not in sha256sum format", side.display()),
        );
        return;
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != file_name {
        v.problem(
            "sidecar",
            format!("{} names `{name}`, not `{file_name}`", side.display()),
        );
    }
    if let Some(actual) = &v.sha256 {
        if *actual != digest {
            v.problem("bundle", format!("SHA-256 of the bundle file is {actual}, but {} says {digest}: the file was modified", side.display()));
        }
    }
}

/// An entry of the zip's central directory, as declared.
struct EntryInfo {
    index: usize,
    name: String,
    size: u64,
    compressed: u64,
    method: zip::CompressionMethod,
}

fn check_archive<R: Read + std::io::Seek>(
    v: &mut Verification,
    zip: &mut ZipArchive<R>,
    limits: &Limits,
    mut keep: Option<&mut Kept>,
) {
    if zip.len() > limits.max_entries {
        v.problem(
            "bundle",
            format!(
                "{} entries, more than the limit of {}; not checked",
                zip.len(),
                limits.max_entries
            ),
        );
        return;
    }
    if zip.has_duplicate_names() {
        v.problem("bundle", "duplicate member names in the zip's central directory (tools may show different content under one name)");
    }
    let mut entries: Vec<EntryInfo> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for i in 0..zip.len() {
        let f = match zip.by_index_raw(i) {
            Ok(f) => f,
            Err(e) => {
                v.problem(format!("entry #{i}"), format!("unreadable zip entry: {e}"));
                continue;
            }
        };
        let name = match f.name() {
            Ok(n) => n.to_string(),
            Err(e) => {
                v.problem(
                    format!("entry #{i}"),
                    format!("unreadable member name: {e}"),
                );
                continue;
            }
        };
        if let Some(why) = unsafe_name(&name) {
            v.problem(
                format!("entry `{}`", name.escape_debug()),
                format!("unsafe member name ({why})"),
            );
            continue;
        }
        if f.is_symlink() {
            v.problem(&name, "symbolic-link entry (dossier never writes links)");
            continue;
        }
        if f.is_dir() {
            v.problem(&name, "directory entry (dossier never writes directories)");
            continue;
        }
        *seen.entry(name.clone()).or_default() += 1;
        entries.push(EntryInfo {
            index: i,
            name,
            size: f.size(),
            compressed: f.compressed_size(),
            method: f.compression(),
        });
    }
    for (name, n) in &seen {
        if *n > 1 {
            v.problem(
                name,
                format!("appears {n} times in the zip (duplicate member names)"),
            );
        }
    }
    let Some(man_entry) = entries.iter().find(|e| e.name == MANIFEST_NAME) else {
        v.problem("manifest", format!("no {MANIFEST_NAME} in the bundle"));
        return;
    };
    if man_entry.size > limits.max_manifest {
        v.problem(
            "manifest",
            format!(
                "declares {} bytes, more than the limit of {}",
                man_entry.size, limits.max_manifest
            ),
        );
        return;
    }
    let body = match read_capped(zip, man_entry.index, limits.max_manifest) {
        Ok(b) => b,
        Err(e) => {
            v.problem("manifest", format!("cannot be read: {e}"));
            return;
        }
    };
    let manifest = match parse_manifest(&body) {
        Ok(m) => m,
        Err(e) => {
            v.problem("manifest", e);
            return;
        }
    };
    let mut listed: BTreeMap<&str, &MemberEntry> = BTreeMap::new();
    for m in &manifest.members {
        if listed.insert(m.name.as_str(), m).is_some() {
            v.problem(&m.name, "listed more than once in the manifest");
        }
    }
    let mut budget = limits.max_total;
    let mut present = std::collections::HashSet::new();
    for e in &entries {
        if e.name == MANIFEST_NAME || seen.get(&e.name).copied().unwrap_or(0) > 1 {
            present.insert(e.name.as_str());
            continue;
        }
        present.insert(e.name.as_str());
        let Some(m) = listed.get(e.name.as_str()) else {
            v.problem(&e.name, "in the zip but not listed in the manifest");
            continue;
        };
        if let Some(why) = declared_size_problem(e, m.size) {
            v.problem(&e.name, why);
            continue;
        }
        if m.size > budget {
            v.problem(
                &e.name,
                format!(
                    "not checked: the bundle declares more than {} bytes in total",
                    limits.max_total
                ),
            );
            continue;
        }
        budget -= m.size;
        let keeping = keep
            .as_mut()
            .is_some_and(|k| k.take_budget(&e.name, m.size));
        let hashed = if keeping {
            read_capped(zip, e.index, m.size.saturating_add(1)).map(|data| {
                let sha = hex(&Sha256::digest(&data));
                let n = data.len() as u64;
                if n == m.size && sha == m.sha256 {
                    if let Some(k) = keep.as_mut() {
                        k.members.insert(e.name.clone(), data);
                    }
                }
                (sha, n)
            })
        } else {
            hash_member(zip, e.index, m.size)
        };
        match hashed {
            Ok((_, n)) if n != m.size => v.problem(
                &e.name,
                format!("content is {n} bytes, the manifest says {}", m.size),
            ),
            Ok((sha, _)) if sha != m.sha256 => v.problem(
                &e.name,
                format!("SHA-256 differs: manifest {}, content {sha}", m.sha256),
            ),
            Ok(_) => v.members_checked += 1,
            Err(err) => v.problem(&e.name, format!("cannot be read: {err}")),
        }
    }
    for m in &manifest.members {
        if !present.contains(m.name.as_str()) {
            v.problem(&m.name, "listed in the manifest but missing from the zip");
        }
    }
    v.manifest = Some(manifest);
}

/// Why an entry's declared sizes cannot be right for its manifest entry, if they cannot.
fn declared_size_problem(e: &EntryInfo, manifest_size: u64) -> Option<String> {
    match e.method {
        zip::CompressionMethod::Stored if e.compressed != e.size => Some(format!(
            "stored entry declares {} bytes but holds {}",
            e.size, e.compressed
        )),
        zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated => {
            if e.size > e.compressed.saturating_mul(MAX_DEFLATE_RATIO).max(1 << 16) {
                Some(format!(
                    "declares {} bytes from {} compressed bytes, a ratio deflate cannot produce (zip bomb?); not decompressed",
                    e.size, e.compressed
                ))
            } else if e.size != manifest_size {
                Some(format!(
                    "zip declares {} bytes, the manifest says {manifest_size}",
                    e.size
                ))
            } else {
                None
            }
        }
        other => Some(format!(
            "compression method {other:?}, which dossier never writes; not decompressed"
        )),
    }
}

fn read_capped<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    cap: u64,
) -> Result<Vec<u8>, String> {
    let f = zip.by_index(index).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > cap {
        return Err(format!("more than {cap} bytes"));
    }
    Ok(out)
}

/// Hashes at most `expected + 1` bytes of a member.
fn hash_member<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    expected: u64,
) -> Result<(String, u64), String> {
    let f = zip.by_index(index).map_err(|e| e.to_string())?;
    hash_reader(f.take(expected.saturating_add(1))).map_err(|e| e.to_string())
}

/// The two fields read before the rest of a manifest. Every other field is skipped without
/// being built (no `serde_json::Value`: its memory can be 16 times the text's).
#[derive(serde::Deserialize)]
struct ManifestHead {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    format_version: Option<serde_json::Value>,
}

/// Parses a manifest, checking format and version before the structure so an unknown version
/// is reported as such. Memory stays proportional to what the manifest really holds.
pub fn parse_manifest(body: &[u8]) -> Result<Manifest, String> {
    // The common case in one pass: a well-formed manifest of this format and version.
    if let Ok(m) = serde_json::from_slice::<Manifest>(body) {
        if m.format == FORMAT && m.format_version == FORMAT_VERSION {
            return Ok(m);
        }
    }
    // Otherwise the checks in order, so the error names what is wrong first.
    let head: ManifestHead =
        serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    match head.format.as_ref().map(|f| f.as_str()) {
        Some(Some(FORMAT)) => {}
        Some(Some(other)) => return Err(format!("format is `{other}`, not `{FORMAT}`")),
        Some(None) => return Err("`format` is not a string: not a dossier manifest".into()),
        None => return Err("no `format` field: not a dossier manifest".into()),
    }
    match head.format_version.as_ref().map(|v| v.as_u64()) {
        Some(Some(n)) if n == FORMAT_VERSION as u64 => {}
        Some(Some(n)) => {
            return Err(format!(
                "format version {n}; this dossier reads version {FORMAT_VERSION}"
            ));
        }
        Some(None) => return Err("`format_version` is not a number".into()),
        None => return Err("no `format_version` field".into()),
    }
    serde_json::from_slice(body).map_err(|e| format!("malformed: {e}"))
}

/// Records with their 1-based line numbers in the records member.
pub type NumberedRecords = Vec<(usize, serde_json::Value)>;

/// A verified bundle opened for analysis.
pub struct Bundle {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: Manifest,
    zip: ZipArchive<Source>,
    index: HashMap<String, usize>,
    /// Verified content kept from verification (see [`Kept`]).
    kept: HashMap<String, Vec<u8>>,
    /// What [`Bundle::records`] may still load: (bytes, values).
    record_budget: (u64, u64),
}

/// Why a bundle could not be opened for analysis.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: verification failed:\n{}", problems.iter().map(|p| format!("  - {}: {}", p.subject, p.message)).collect::<Vec<_>>().join("\n"))]
    Unverified {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
}

impl Bundle {
    /// Verifies a bundle and opens it. Refuses any bundle that does not verify.
    ///
    /// The archive analysed is the one verification read, on the same open file, and the
    /// content of records and small members is kept from verification (each checked against
    /// the manifest's SHA-256 there), so they are decompressed and hashed once.
    pub fn open(path: &Path, limits: &Limits) -> Result<(Bundle, Verification), OpenError> {
        let mut kept = Kept::new(limits);
        let (mut v, zip) = verify_keeping(path, limits, Some(&mut kept));
        if !v.ok() {
            return Err(OpenError::Unverified {
                path: path.to_path_buf(),
                problems: v.problems,
            });
        }
        let read = |message: String| OpenError::Read {
            path: path.to_path_buf(),
            message,
        };
        let mut zip = zip.ok_or_else(|| read("no archive".into()))?;
        let mut index = HashMap::new();
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| read(e.to_string()))?;
            let name = f.name().map_err(|e| read(e.to_string()))?.to_string();
            index.insert(name, i);
        }
        let manifest = v
            .manifest
            .take()
            .ok_or_else(|| read("no manifest".into()))?;
        let sha256 = v.sha256.clone().unwrap_or_default();
        Ok((
            Bundle {
                path: path.to_path_buf(),
                sha256,
                manifest,
                zip,
                index,
                kept: kept.members,
                record_budget: (limits.max_record_bytes, limits.max_record_values),
            },
            v,
        ))
    }

    /// The manifest entry of a member.
    pub fn member(&self, name: &str) -> Option<&MemberEntry> {
        self.manifest.members.iter().find(|m| m.name == name)
    }

    /// Reads a member whole (at most `cap` bytes), re-checking its SHA-256.
    pub fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        let entry = self
            .member(name)
            .ok_or_else(|| format!("{name}: not in the manifest"))?
            .clone();
        if entry.size > cap {
            return Err(format!(
                "{name}: {} bytes, more than the {cap}-byte limit",
                entry.size
            ));
        }
        if let Some(data) = self.kept.get(name) {
            return Ok(data.clone());
        }
        let &i = self
            .index
            .get(name)
            .ok_or_else(|| format!("{name}: missing"))?;
        let data = read_capped(&mut self.zip, i, entry.size).map_err(|e| format!("{name}: {e}"))?;
        if hex(&Sha256::digest(&data)) != entry.sha256 {
            return Err(format!("{name}: SHA-256 differs from the manifest"));
        }
        Ok(data)
    }

    /// Records of one collector (`records/<name>.jsonl`), one JSON value per line. Lines that
    /// are not JSON are returned as errors with their line numbers.
    ///
    /// The member is streamed line by line and its SHA-256 re-checked at the end; what is
    /// loaded counts against the bundle's record budget ([`Limits::max_record_bytes`],
    /// [`Limits::max_record_values`]): a member that would exceed it is not loaded at all, and
    /// the error names it and the limit.
    pub fn records(
        &mut self,
        collector: &str,
        cap: u64,
    ) -> Result<(NumberedRecords, Vec<String>), String> {
        let name = format!("records/{collector}.jsonl");
        let Some(entry) = self.member(&name).cloned() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (bytes_left, values_left) = self.record_budget;
        let cap = cap.min(bytes_left);
        if entry.size > cap {
            return Err(format!(
                "{name}: {} bytes, more than the {cap} bytes of records left to load (limit); not analyzed",
                entry.size
            ));
        }
        // Kept from verification: already checked against the manifest, parsed in place.
        if let Some(data) = self.kept.remove(&name) {
            let mut out = Vec::new();
            let mut bad = Vec::new();
            let mut values = 0u64;
            for (i, line) in data.split(|b| *b == b'\n').enumerate() {
                let lineno = i + 1;
                values += json_values_bound(line);
                if values > values_left {
                    return Err(format!(
                        "{name}: more than the {values_left} JSON values of records left to load (limit) by line {lineno}; not analyzed"
                    ));
                }
                if line.len() + 1 > MAX_RECORD_LINE {
                    return Err(format!(
                        "{name}: line {lineno} is longer than {MAX_RECORD_LINE} bytes (limit); not analyzed"
                    ));
                }
                if !line.iter().all(u8::is_ascii_whitespace) {
                    match serde_json::from_slice(line) {
                        Ok(v) => out.push((lineno, v)),
                        Err(e) => bad.push(format!("{name} line {lineno}: {e}")),
                    }
                }
            }
            self.record_budget = (bytes_left - data.len() as u64, values_left - values);
            return Ok((out, bad));
        }
        // Otherwise streamed from the archive and its hash re-checked at the end.
        let &i = self
            .index
            .get(&name)
            .ok_or_else(|| format!("{name}: missing"))?;
        let f = self.zip.by_index(i).map_err(|e| format!("{name}: {e}"))?;
        let mut r = BufReader::with_capacity(1 << 16, HashingReader::new(f.take(entry.size + 1)));
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut values = 0u64;
        let mut line = Vec::new();
        let mut lineno = 0usize;
        loop {
            // One line, counted as it is read: neither a huge line nor a line of a million
            // tiny values is ever held whole.
            use std::io::BufRead;
            let buf = r.fill_buf().map_err(|e| format!("{name}: {e}"))?;
            let eof = buf.is_empty();
            let (chunk, end) = match buf.iter().position(|b| *b == b'\n') {
                Some(p) => (&buf[..=p], true),
                None => (buf, eof),
            };
            values += json_values_bound(chunk);
            if values > values_left {
                return Err(format!(
                    "{name}: more than the {values_left} JSON values of records left to load (limit) by line {}; not analyzed",
                    lineno + 1
                ));
            }
            if line.len() + chunk.len() > MAX_RECORD_LINE {
                return Err(format!(
                    "{name}: line {} is longer than {MAX_RECORD_LINE} bytes (limit); not analyzed",
                    lineno + 1
                ));
            }
            line.extend_from_slice(chunk);
            let used = chunk.len();
            r.consume(used);
            if !end {
                continue;
            }
            if eof && line.is_empty() {
                break;
            }
            lineno += 1;
            if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice(&line) {
                    Ok(v) => out.push((lineno, v)),
                    Err(e) => bad.push(format!("{name} line {lineno}: {e}")),
                }
            }
            line.clear();
            if eof {
                break;
            }
        }
        let (sha, total) = r.into_inner().finish();
        if total != entry.size || sha != entry.sha256 {
            return Err(format!("{name}: content differs from the manifest"));
        }
        self.record_budget = (bytes_left - total, values_left - values);
        Ok((out, bad))
    }
}

/// Longest line of a records member loaded for analysis (one record).
const MAX_RECORD_LINE: usize = 16 << 20;

/// An upper bound of the number of JSON values in one line of JSON text: one, plus one per
/// `,` `:` `[` `{` (outside strings too: an over-count is harmless).
fn json_values_bound(line: &[u8]) -> u64 {
    1 + line
        .iter()
        .filter(|b| matches!(b, b',' | b':' | b'[' | b'{'))
        .count() as u64
}

/// Hashes what is read through it.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    total: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Sha256::new(),
            total: 0,
        }
    }

    /// SHA-256 (hex) and length of everything read.
    fn finish(self) -> (String, u64) {
        (hex(&self.hash.finalize()), self.total)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.total += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_format() {
        let d = "a".repeat(64);
        assert_eq!(
            parse_sidecar(&format!("{d}  x.zip\n")),
            Some((d.clone(), "x.zip".into()))
        );
        assert_eq!(
            parse_sidecar(&format!("{d} *x.zip\n")),
            Some((d.clone(), "x.zip".into()))
        );
        assert_eq!(parse_sidecar("zz  x.zip"), None);
    }

    #[test]
    fn manifest_versions() {
        assert!(parse_manifest(b"{}").unwrap_err().contains("no `format`"));
        assert!(
            parse_manifest(br#"{"format":"dossier-bundle","format_version":99}"#)
                .unwrap_err()
                .contains("version 99")
        );
        assert!(
            parse_manifest(b"[1,")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_manifest(br#"{"format":"dossier-bundle","format_version":1}"#)
                .unwrap_err()
                .contains("malformed")
        );
    }

    fn fixture_bundle() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bundles/esxi-web01-snapshot.zip")
    }

    #[test]
    fn content_kept_from_verification_reads_as_the_archive_does() {
        let (mut kept, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        assert!(
            kept.kept.keys().any(|k| k.starts_with("records/")),
            "records kept from verification"
        );
        let (mut streamed, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        streamed.kept.clear();
        let members: Vec<String> = kept
            .manifest
            .members
            .iter()
            .map(|m| m.name.clone())
            .collect();
        for name in &members {
            if let Some(c) = name
                .strip_prefix("records/")
                .and_then(|n| n.strip_suffix(".jsonl"))
            {
                let a = kept.records(c, u64::MAX).unwrap();
                let b = streamed.records(c, u64::MAX).unwrap();
                assert_eq!(a, b, "{name}");
            } else {
                assert_eq!(
                    kept.read_member(name, u64::MAX).unwrap(),
                    streamed.read_member(name, u64::MAX).unwrap(),
                    "{name}"
                );
            }
        }
        // The whole file was read into memory, hashed there, and that hash is the bundle's.
        let sidecar = std::fs::read_to_string(sidecar_path(&fixture_bundle())).unwrap();
        assert_eq!(kept.sha256, sidecar[..64]);
    }

    #[test]
    fn a_member_changed_after_the_manifest_is_refused_in_memory_too() {
        let d = tempfile::tempdir().unwrap();
        let mut data = std::fs::read(fixture_bundle()).unwrap();
        // Flip one byte of the compressed content of a records member (after its local
        // header), then write a matching sidecar so only the member checks can catch it.
        let name = b"records/cron.jsonl";
        let header = data
            .windows(4)
            .enumerate()
            .find(|(i, w)| *w == b"PK\x03\x04" && data[i + 30..].starts_with(name))
            .map(|(i, _)| i)
            .expect("local header of records/cron.jsonl");
        let le16 = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
        let content = header + 30 + le16(header + 26) + le16(header + 28);
        data[content + 10] ^= 0x55;
        let p = d.path().join("b.zip");
        std::fs::write(&p, &data).unwrap();
        std::fs::write(
            sidecar_path(&p),
            format!("{}  b.zip\n", hex(&Sha256::digest(&data))),
        )
        .unwrap();
        assert!(Bundle::open(&p, &Limits::default()).is_err());
        assert!(!verify(&p, &Limits::default()).ok());
    }
}
