//! Every package's file list, held compactly, and who owns a path.
//!
//! A fleet sweep keeps one database per host being collected, and a Debian host lists some
//! 130,000 paths (7.5 MB of text on a desktop-sized install). The paths are kept in list
//! order, each one front-coded against the path before it (the length shared with it and the
//! rest of its bytes; every [`RESTART`]th path whole), about a third of the text; a table of
//! (hash of the path, path number) sorted by hash answers "who owns this path": the
//! candidates of a hash are decoded and compared, so a hash collision costs a comparison,
//! never a wrong answer.

use dossier_plugin_api::records::SourceRef;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::ops::Range;

/// Every this many paths one is stored whole: decoding a path reads at most this many.
const RESTART: usize = 16;

/// One package's list: who, where it was read from, and its paths (numbers of [`FileLists`]).
#[derive(Debug)]
struct List {
    manager: String,
    package: String,
    source: SourceRef,
    paths: Range<u32>,
}

/// Every package's file list, front-coded in list order, with an ownership index.
#[derive(Debug, Default)]
pub struct FileLists {
    /// Per path: the length shared with the path before it, the length of the rest (LEB128
    /// each), then the rest.
    data: Vec<u8>,
    /// Offset in `data` of paths 0, [`RESTART`], 2 × [`RESTART`]...
    restarts: Vec<u32>,
    /// Number of paths.
    count: u32,
    /// The last path added (what the next one is coded against).
    last: String,
    lists: Vec<List>,
    /// (hash of the path, path number), sorted by [`FileLists::finish`].
    index: Vec<(u32, u32)>,
}

/// The hash of a path in the ownership index (fixed keys: the same on every run).
fn hash(path: &str) -> u32 {
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(path);
    (h ^ (h >> 32)) as u32
}

fn push_len(data: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        data.push((n as u8) | 0x80);
        n >>= 7;
    }
    data.push(n as u8);
}

fn read_len(data: &[u8], at: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(&b) = data.get(*at) {
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    n
}

impl FileLists {
    /// Adds one package's list.
    pub fn add<S: AsRef<str>>(
        &mut self,
        manager: &str,
        package: String,
        files: impl IntoIterator<Item = S>,
        source: SourceRef,
    ) {
        let start = self.count;
        for f in files {
            self.push(f.as_ref());
        }
        self.lists.push(List {
            manager: manager.to_string(),
            package,
            source,
            paths: start..self.count,
        });
    }

    /// Appends one path, front-coded against the last.
    fn push(&mut self, path: &str) {
        let n = self.count as usize;
        let shared = if n % RESTART == 0 {
            self.restarts.push(self.data.len() as u32);
            0
        } else {
            let mut s = path
                .bytes()
                .zip(self.last.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            while !path.is_char_boundary(s) {
                s -= 1;
            }
            s
        };
        push_len(&mut self.data, shared);
        push_len(&mut self.data, path.len() - shared);
        self.data.extend_from_slice(&path.as_bytes()[shared..]);
        self.index.push((hash(path), self.count));
        self.last.clear();
        self.last.push_str(path);
        self.count += 1;
    }

    /// Sorts the ownership index; call once every list is added.
    pub fn finish(&mut self) {
        self.index.sort_unstable();
        self.data.shrink_to_fit();
        self.restarts.shrink_to_fit();
        self.index.shrink_to_fit();
        self.lists.shrink_to_fit();
        self.last = String::new();
    }

    /// Decodes paths `from..` in order, calling `each` with every one until it returns false.
    fn decode_from(&self, from: u32, mut each: impl FnMut(u32, &str) -> bool) {
        let r = from as usize / RESTART;
        let Some(&off) = self.restarts.get(r) else {
            return;
        };
        let mut at = off as usize;
        let mut path = String::new();
        for n in (r * RESTART) as u32..self.count {
            let shared = read_len(&self.data, &mut at);
            let len = read_len(&self.data, &mut at);
            path.truncate(shared);
            let rest = &self.data[at..at + len];
            at += len;
            // Pushed from a `str` and cut on a character boundary: always UTF-8.
            path.push_str(std::str::from_utf8(rest).unwrap_or_default());
            if n >= from && !each(n, &path) {
                return;
            }
        }
    }

    /// Path number `n`.
    fn path(&self, n: u32) -> String {
        let mut out = String::new();
        self.decode_from(n, |_, p| {
            out.push_str(p);
            false
        });
        out
    }

    /// Names of the packages whose lists hold exactly `path` (once per list that holds it).
    pub fn owners(&self, path: &str) -> Vec<&str> {
        let h = hash(path);
        let from = self.index.partition_point(|e| e.0 < h);
        self.index[from..]
            .iter()
            .take_while(|e| e.0 == h)
            .filter(|e| self.path(e.1) == path)
            .filter_map(|e| self.list_of(e.1))
            .map(|l| l.package.as_str())
            .collect()
    }

    /// The list holding path number `n`.
    fn list_of(&self, n: u32) -> Option<&List> {
        let i = self.lists.partition_point(|l| l.paths.end <= n);
        self.lists.get(i).filter(|l| l.paths.contains(&n))
    }

    /// Number of packages with a list.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// No list at all.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Calls `each` with every listed path, in list order (a path listed by several packages
    /// once per list).
    pub fn for_each_path(&self, mut each: impl FnMut(&str)) {
        self.decode_from(0, |_, p| {
            each(p);
            true
        });
    }

    /// Package list `i` as the JSON line of its `package_files` record, byte for byte what
    /// serializing `Record::PackageFiles` through a `serde_json::Value` gives (keys sorted),
    /// written straight from the compact lists: no `Vec<String>` and no `Value` of a list
    /// that may hold 50,000 paths. `None` past the last list.
    pub fn record_line(&self, i: usize, out: &mut Vec<u8>) -> Option<()> {
        let list = self.lists.get(i)?;
        out.clear();
        out.extend_from_slice(b"{\"files\":[");
        if !list.paths.is_empty() {
            self.decode_from(list.paths.start, |n, p| {
                if n >= list.paths.end {
                    return false;
                }
                if n > list.paths.start {
                    out.push(b',');
                }
                json_str(out, p);
                true
            });
        }
        out.extend_from_slice(b"],\"kind\":\"package_files\",\"manager\":");
        json_str(out, &list.manager);
        out.extend_from_slice(b",\"package\":");
        json_str(out, &list.package);
        out.extend_from_slice(b",\"source\":{");
        if let Some(m) = &list.source.member {
            out.extend_from_slice(b"\"member\":");
            json_str(out, m);
            out.push(b',');
        }
        out.extend_from_slice(b"\"path\":");
        json_str(out, &list.source.path);
        if let Some(s) = &list.source.sha256 {
            out.extend_from_slice(b",\"sha256\":");
            json_str(out, s);
        }
        out.extend_from_slice(b"}}");
        Some(())
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::records::{PackageFiles, Record};

    fn src(path: &str, member: bool) -> SourceRef {
        SourceRef {
            path: path.into(),
            member: member.then(|| format!("raw{path}")),
            sha256: member.then(|| "ab".repeat(32)),
        }
    }

    /// A database of three packages: `/usr` and `/usr/bin` in every list, a path with non-ASCII
    /// characters and characters JSON escapes, and a list long enough to cross restarts.
    fn lists() -> (FileLists, Vec<PackageFiles>) {
        let long: Vec<String> = (0..40)
            .map(|i| format!("/usr/share/doc/big/f{i:03}"))
            .collect();
        let given = vec![
            PackageFiles {
                manager: "dpkg".into(),
                package: "coreutils".into(),
                files: [
                    "/.",
                    "/usr",
                    "/usr/bin",
                    "/usr/bin/ls",
                    "/usr/bin/l\\s\"q\u{1}",
                ]
                .map(String::from)
                .to_vec(),
                source: src("/var/lib/dpkg/info/coreutils.list", false),
            },
            PackageFiles {
                manager: "dpkg".into(),
                package: "big".into(),
                files: ["/usr".to_string(), "/usr/bin".into(), "/usr/bin/é€x".into()]
                    .into_iter()
                    .chain(long)
                    .collect(),
                source: src("/var/lib/dpkg/info/big:amd64.list", true),
            },
            PackageFiles {
                manager: "dpkg".into(),
                package: "empty".into(),
                files: vec![],
                source: src("/var/lib/dpkg/info/empty.list", true),
            },
            PackageFiles {
                manager: "dpkg".into(),
                package: "other".into(),
                files: ["/usr", "/usr/bin/éa", "/usr/bin/ls"]
                    .map(String::from)
                    .to_vec(),
                source: src("/var/lib/dpkg/info/other.list", false),
            },
        ];
        let mut f = FileLists::default();
        for p in &given {
            f.add(&p.manager, p.package.clone(), &p.files, p.source.clone());
        }
        f.finish();
        (f, given)
    }

    #[test]
    fn lookups_by_path_and_ownership_by_several_packages() {
        let (f, _) = lists();
        assert_eq!(f.len(), 4);
        assert_eq!(f.owners("/usr/bin/ls"), ["coreutils", "other"]);
        assert_eq!(f.owners("/usr"), ["coreutils", "big", "other"]);
        assert_eq!(f.owners("/usr/bin/é€x"), ["big"]);
        assert_eq!(f.owners("/usr/bin/éa"), ["other"]);
        assert_eq!(f.owners("/usr/share/doc/big/f039"), ["big"]);
        assert_eq!(f.owners("/usr/share/doc/big/f016"), ["big"]);
        assert!(f.owners("/usr/share/doc/big/f040").is_empty());
        assert!(f.owners("/usr/bin/l").is_empty());
        assert!(f.owners("").is_empty());
        assert!(FileLists::default().owners("/usr").is_empty());
    }

    #[test]
    fn every_path_in_list_order() {
        let (f, given) = lists();
        let mut seen = Vec::new();
        f.for_each_path(|p| seen.push(p.to_string()));
        let want: Vec<String> = given.iter().flat_map(|p| p.files.clone()).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn record_lines_are_the_records_serialized_through_a_value() {
        let (f, given) = lists();
        let mut line = Vec::new();
        for (i, p) in given.into_iter().enumerate() {
            f.record_line(i, &mut line).unwrap();
            let v = serde_json::to_value(Record::PackageFiles(p)).unwrap();
            assert_eq!(
                String::from_utf8(line.clone()).unwrap(),
                serde_json::to_string(&v).unwrap()
            );
        }
        assert!(f.record_line(4, &mut line).is_none());
    }

    #[test]
    fn long_paths_and_lengths_over_one_byte() {
        let a = format!("/{}", "a".repeat(300));
        let b = format!("{a}/{}", "b".repeat(200));
        let mut f = FileLists::default();
        f.add("rpm", "x".into(), [&a, &b, &a], src("exec:rpm", false));
        f.finish();
        assert_eq!(f.owners(&b), ["x"]);
        assert_eq!(f.owners(&a), ["x", "x"]);
        let mut seen = Vec::new();
        f.for_each_path(|p| seen.push(p.to_string()));
        assert_eq!(seen, [a.clone(), b, a]);
    }
}
