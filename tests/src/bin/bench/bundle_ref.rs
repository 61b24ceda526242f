//! The reference of `dossier-bench bundle`: the work of dossier's bundle writer done with
//! stock tools. `sha256sum` of every file (dossier hashes each file it copies), `zip` of each
//! file at the level dossier chose for it (stored, or deflate level 1 or 6: read from
//! dossier's bundle), `sync` of each archive (dossier fsyncs the bundle) and `sha256sum` of
//! each archive (dossier hashes the bundle as it writes it). On one CPU the commands run one
//! after another; on N CPUs the files are split N ways by bytes and the N parts run at the
//! same time (N archives per level instead of one).

use dossier_bundle::names::raw_member_name;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Deflated members of at least this size get level 1, smaller ones level 6: the rule of
/// dossier's bundle writer (`FAST_THRESHOLD` in bundle/src/writer/options.rs). Whether a
/// member is stored or deflated is read from the bundle itself.
const FAST_THRESHOLD: u64 = 1 << 20;

/// One file of the set, with the zip level dossier used for it (0: stored).
#[derive(Clone, Debug)]
pub struct RefFile {
    /// Relative to the file set's directory.
    pub path: PathBuf,
    pub size: u64,
    pub level: u32,
}

/// The level dossier used for each of `files` (relative to `set`) in `bundle`.
pub fn levels(set: &Path, bundle: &Path, files: &[PathBuf]) -> Vec<RefFile> {
    let f = std::fs::File::open(bundle).expect("open bundle");
    let mut zip = zip::ZipArchive::new(f).expect("bundle is a zip");
    files
        .iter()
        .map(|p| {
            let name = raw_member_name(&Path::new("/").join(p).to_string_lossy());
            let member = zip.by_name(&name).expect("member of every file");
            let size = std::fs::metadata(set.join(p)).expect("file").len();
            let level = match member.compression() {
                zip::CompressionMethod::Stored => 0,
                _ if size >= FAST_THRESHOLD => 1,
                _ => 6,
            };
            RefFile {
                path: p.clone(),
                size,
                level,
            }
        })
        .collect()
}

/// `(level, files, bytes)` of each level used, in level order.
pub fn by_level(files: &[RefFile]) -> Vec<(u32, usize, u64)> {
    let mut v: Vec<(u32, usize, u64)> = vec![];
    for f in files {
        match v.iter_mut().find(|(l, ..)| *l == f.level) {
            Some(e) => {
                e.1 += 1;
                e.2 += f.size;
            }
            None => v.push((f.level, 1, f.size)),
        }
    }
    v.sort();
    v
}

/// `files` in `n` parts of about equal bytes (largest file first into the lightest part).
pub fn split(files: &[RefFile], n: usize) -> Vec<Vec<RefFile>> {
    let mut sorted: Vec<&RefFile> = files.iter().collect();
    sorted.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    let mut parts: Vec<(u64, Vec<RefFile>)> = vec![(0, vec![]); n.max(1)];
    for f in sorted {
        let lightest = parts
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least one part");
        lightest.0 += f.size;
        lightest.1.push(f.clone());
    }
    parts.into_iter().map(|(_, v)| v).collect()
}

fn run(cmd: &mut Command) {
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
}

/// The chain on one part: its archives are `out/ref-<tag>-<level>.zip`.
fn chain(set: &Path, part: &[RefFile], out: &Path, tag: usize) {
    if part.is_empty() {
        return;
    }
    run(Command::new("sha256sum")
        .args(part.iter().map(|f| &f.path))
        .current_dir(set));
    let mut archives = vec![];
    for level in [0, 1, 6] {
        let files: Vec<&PathBuf> = part
            .iter()
            .filter(|f| f.level == level)
            .map(|f| &f.path)
            .collect();
        if files.is_empty() {
            continue;
        }
        let zip = out.join(format!("ref-{tag}-{level}.zip"));
        run(Command::new("zip")
            .arg("-q")
            .arg(format!("-{level}"))
            .arg(&zip)
            .args(files)
            .current_dir(set));
        archives.push(zip);
    }
    run(Command::new("sync").args(&archives));
    run(Command::new("sha256sum").args(&archives));
}

/// Runs the chain on every part, at the same time when there are several; the archives go
/// into `out`.
pub fn run_parts(set: &Path, parts: &[Vec<RefFile>], out: &Path) {
    if let [part] = parts {
        chain(set, part, out, 0);
        return;
    }
    std::thread::scope(|s| {
        for (i, part) in parts.iter().enumerate() {
            s.spawn(move || chain(set, part, out, i));
        }
    });
}

/// Removes the archives of earlier runs from `out`.
pub fn clear(out: &Path) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("mkdir");
}

/// Number and total bytes of the archives in `out`.
pub fn archives(out: &Path) -> (usize, u64) {
    std::fs::read_dir(out)
        .expect("archives")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
}
