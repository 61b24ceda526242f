//! The benign corpus: realistic, uncompromised hosts, each a copy of `rootfs-clean` plus what
//! an administrator adds to it, from `tests/fixtures/benign/<case>/` (`root/` holds the files
//! added or replaced, `case.conf` the rest: lines appended to account files, group members,
//! modes, owners, and packages the administrator installed, registered in the dpkg database
//! from their files' content). `tests/fixtures/benign/generate.py` writes the cases and
//! documents the directives; `tests/fixtures/benign/README.md` says what each host is.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::Digest;

/// One benign host of the corpus.
#[derive(Clone, Debug)]
pub struct BenignCase {
    /// Directory name under `tests/fixtures/benign/`.
    pub name: String,
    /// What the host is (`about` in `case.conf`).
    pub about: String,
    /// Its host name (`root/etc/hostname`).
    pub hostname: String,
    dir: PathBuf,
}

/// A package the administrator installed, as `case.conf` declares it.
#[derive(Default)]
struct Package {
    name: String,
    version: String,
    description: String,
    /// Paths on the host, with whether each is a conffile.
    files: Vec<(String, bool)>,
    /// Files added to a package `rootfs-clean` already has (`addto`): no new status entry.
    existing: bool,
}

/// Every case of the benign corpus, by name.
pub fn benign_cases() -> Vec<BenignCase> {
    let base = crate::fixture("benign");
    let mut out = vec![];
    for e in std::fs::read_dir(&base).expect("tests/fixtures/benign") {
        let dir = e.expect("dir entry").path();
        let conf = dir.join("case.conf");
        if !conf.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&conf).expect("read case.conf");
        let about = text
            .lines()
            .find_map(|l| l.strip_prefix("about "))
            .unwrap_or_else(|| panic!("{}: no `about` line", conf.display()))
            .to_string();
        let hostname = std::fs::read_to_string(dir.join("root/etc/hostname"))
            .unwrap_or_else(|e| panic!("{}: root/etc/hostname: {e}", dir.display()))
            .trim()
            .to_string();
        out.push(BenignCase {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            about,
            hostname,
            dir,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `root` joined with an absolute host path.
fn at(root: &Path, host_path: &str) -> PathBuf {
    root.join(host_path.trim_start_matches('/'))
}

fn md5_hex(data: &[u8]) -> String {
    dossier_plugin_api::encoding::hex(&md5::Md5::digest(data))
}

impl BenignCase {
    /// The host paths that `case.conf` registers as files of installed packages.
    pub fn packaged_files(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("case.conf"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.strip_prefix("file ")
                    .or_else(|| l.strip_prefix("conffile "))
                    .map(|p| p.trim().to_string())
            })
            .collect()
    }

    /// Whether `case.conf` has `owner` lines, which [`BenignCase::build`] applies only as root
    /// (chown).
    pub fn sets_owners(&self) -> bool {
        std::fs::read_to_string(self.dir.join("case.conf"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("owner "))
    }

    /// Builds the host at `to` (which must not exist): a copy of `rootfs-clean`, the case's
    /// files over it, then its `case.conf` directives. Returns `to`.
    pub fn build(&self, to: &Path) -> PathBuf {
        let root = crate::fixture_copy("rootfs-clean", to);
        let st = Command::new("cp")
            .arg("-a")
            .arg(self.dir.join("root/."))
            .arg(&root)
            .status()
            .expect("run cp");
        assert!(st.success(), "overlay of {}", self.name);
        let conf = self.dir.join("case.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let is_root = nix::unistd::geteuid().is_root();
        let mut packages: Vec<Package> = vec![];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at_line = format!("{}:{}", conf.display(), n + 1);
            directive(&root, line, &at_line, is_root, &mut packages);
        }
        for pkg in &packages {
            register(&root, pkg);
        }
        root
    }
}

/// Applies one `case.conf` directive to `root` (`at_line`, `FILE:LINE`, names it when it is
/// bad); `package` and `addto` start an entry of `packages`, `file` and `conffile` add to the
/// last one.
fn directive(root: &Path, line: &str, at_line: &str, is_root: bool, packages: &mut Vec<Package>) {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let bad = || panic!("{at_line}: bad line {line:?}");
    match word {
        "about" => {}
        "append" => {
            let Some((file, text)) = rest.split_once(' ') else {
                bad()
            };
            let p = at(root, file);
            let mut data = std::fs::read(&p).unwrap_or_default();
            if !data.is_empty() && !data.ends_with(b"\n") {
                data.push(b'\n');
            }
            data.extend_from_slice(text.as_bytes());
            data.push(b'\n');
            std::fs::write(&p, data).unwrap();
        }
        "member" => {
            let Some((group, user)) = rest.split_once(' ') else {
                bad()
            };
            add_member(root, group, user, at_line);
        }
        "mode" => {
            let Some((mode, path)) = rest.split_once(' ') else {
                bad()
            };
            let mode = u32::from_str_radix(mode, 8).unwrap_or_else(|_| bad());
            std::fs::set_permissions(at(root, path), std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{at_line}: {e}"));
        }
        "owner" => {
            let Some((owner, path)) = rest.split_once(' ') else {
                bad()
            };
            if is_root {
                let st = Command::new("chown")
                    .args(["-R", "-h", owner])
                    .arg(at(root, path))
                    .status()
                    .expect("run chown");
                assert!(st.success(), "{at_line}: chown");
            }
        }
        "package" => {
            let mut f = rest.splitn(3, ' ');
            let (Some(name), Some(version), Some(description)) = (f.next(), f.next(), f.next())
            else {
                bad()
            };
            packages.push(Package {
                name: name.into(),
                version: version.into(),
                description: description.into(),
                files: vec![],
                existing: false,
            });
        }
        "addto" => {
            let name = rest.trim();
            let list = at(root, &format!("/var/lib/dpkg/info/{name}.list"));
            assert!(list.is_file(), "{at_line}: no package {name}");
            packages.push(Package {
                name: name.into(),
                existing: true,
                ..Package::default()
            });
        }
        "file" | "conffile" => {
            // after `package` or `addto`
            let Some(pkg) = packages.last_mut() else {
                bad()
            };
            pkg.files.push((rest.to_string(), word == "conffile"));
        }
        _ => bad(),
    }
}

/// Adds `user` to `group` in `/etc/group` of `root` (`at_line` names the directive).
fn add_member(root: &Path, group: &str, user: &str, at_line: &str) {
    let p = at(root, "/etc/group");
    let groups = std::fs::read_to_string(&p).unwrap();
    let mut found = false;
    let lines: Vec<String> = groups
        .lines()
        .map(|l| {
            if l.split(':').next() != Some(group) {
                return l.to_string();
            }
            found = true;
            if l.ends_with(':') {
                format!("{l}{user}")
            } else {
                format!("{l},{user}")
            }
        })
        .collect();
    assert!(found, "{at_line}: no group {group}");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
}

/// Adds `pkg` to the dpkg database of `root`: its status entry (with the conffiles' md5),
/// `info/<name>.list` (its files and their parent directories) and `info/<name>.md5sums`
/// (its regular files that are not conffiles), all from the files' content in `root`.
fn register(root: &Path, pkg: &Package) {
    let mut dirs = std::collections::BTreeSet::new();
    let mut md5sums = String::new();
    let mut conffiles = String::new();
    for (path, conffile) in &pkg.files {
        let p = at(root, path);
        let meta = std::fs::symlink_metadata(&p)
            .unwrap_or_else(|e| panic!("package {}: {path}: {e}", pkg.name));
        let mut parent = Path::new(path).parent();
        while let Some(d) = parent.filter(|d| *d != Path::new("/")) {
            dirs.insert(d.to_string_lossy().into_owned());
            parent = d.parent();
        }
        if meta.file_type().is_symlink() {
            continue;
        }
        let sum = md5_hex(&std::fs::read(&p).unwrap());
        if *conffile {
            assert!(!pkg.existing, "package {}: conffile {path} added", pkg.name);
            let _ = writeln!(conffiles, " {path} {sum}");
        } else {
            let _ = writeln!(md5sums, "{sum}  {}", path.trim_start_matches('/'));
        }
    }
    let mut list = String::from("/.\n");
    let mut all: Vec<String> = dirs.into_iter().collect();
    all.extend(pkg.files.iter().map(|(p, _)| p.clone()));
    all.sort();
    for p in all {
        let _ = writeln!(list, "{p}");
    }
    let info = at(root, "/var/lib/dpkg/info");
    if pkg.existing {
        // Merge into the package's own files: its list (once each, sorted) and md5sums.
        let path = info.join(format!("{}.list", pkg.name));
        let old = std::fs::read_to_string(&path).unwrap();
        let mut all: std::collections::BTreeSet<&str> = old.lines().collect();
        all.extend(list.lines());
        let merged: String = all.into_iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, merged).unwrap();
        let path = info.join(format!("{}.md5sums", pkg.name));
        let mut old = std::fs::read_to_string(&path).unwrap_or_default();
        old.push_str(&md5sums);
        std::fs::write(&path, old).unwrap();
        return;
    }
    std::fs::write(info.join(format!("{}.list", pkg.name)), list).unwrap();
    std::fs::write(info.join(format!("{}.md5sums", pkg.name)), md5sums).unwrap();
    let mut entry = format!(
        "\nPackage: {}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {}\n",
        pkg.name, pkg.version
    );
    if !conffiles.is_empty() {
        entry.push_str("Conffiles:\n");
        entry.push_str(&conffiles);
    }
    let _ = writeln!(entry, "Description: {}", pkg.description);
    let status = at(root, "/var/lib/dpkg/status");
    let mut data = std::fs::read(&status).unwrap();
    data.extend_from_slice(entry.as_bytes());
    std::fs::write(&status, data).unwrap();
}
