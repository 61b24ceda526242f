//! Checks of the paths a command line names, made while planning (before anything is
//! collected, read or written), each failing with one line that names the flag or argument,
//! what is wrong with it and what to give instead: missing inputs, a folder where a file is
//! wanted (or the reverse), a bundle given as a playbook, an output folder that cannot be
//! made because a file is in the way.

use std::path::Path;

/// An input path that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{what} {path}: does not exist; {hint}")]
    Missing {
        what: String,
        path: String,
        hint: &'static str,
    },
    #[error("{what} {path}: {kind}, not {wanted}; {hint}")]
    WrongType {
        what: String,
        path: String,
        kind: &'static str,
        wanted: &'static str,
        hint: &'static str,
    },
    #[error("{what} {path}: cannot be read ({reason}); {hint}")]
    Unreadable {
        what: String,
        path: String,
        reason: String,
        hint: &'static str,
    },
    #[error("{what} {path}: {blocker} is a file, not a folder; {hint}")]
    FileInTheWay {
        what: String,
        path: String,
        blocker: String,
        hint: &'static str,
    },
    #[error("{what} {path}: {folder} is not writable by you; {hint}")]
    NotWritable {
        what: String,
        path: String,
        folder: String,
        hint: &'static str,
    },
    #[error("{what} {path}: a dossier bundle (zip archive), not a playbook; {hint}")]
    BundleAsPlaybook {
        what: String,
        path: String,
        hint: &'static str,
    },
}

/// What to give for a bundle argument.
const BUNDLE_HINT: &str =
    "give bundle files (.zip, or .zip.age) written by `dossier collect`, `sweep` or `import`";

/// What to give for an output folder.
const OUT_HINT: &str = "choose another output folder";

/// The kind of file `meta` describes, for a message.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

/// The metadata of `path` (following links), or the error for `what` when it is missing or
/// cannot be examined.
fn stat(what: &str, path: &Path, hint: &'static str) -> Result<std::fs::Metadata, InputError> {
    std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InputError::Missing {
            what: what.to_string(),
            path: path.display().to_string(),
            hint,
        },
        _ => InputError::Unreadable {
            what: what.to_string(),
            path: path.display().to_string(),
            reason: io_reason(&e),
            hint,
        },
    })
}

/// An I/O error's text without the `(os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `--root DIR`: an existing folder.
pub fn root_dir(path: &Path) -> Result<(), InputError> {
    let hint = "give the folder where the image is mounted";
    let meta = stat("--root", path, hint)?;
    if !meta.is_dir() {
        return Err(InputError::WrongType {
            what: "--root".into(),
            path: path.display().to_string(),
            kind: kind(&meta),
            wanted: "a folder",
            hint,
        });
    }
    Ok(())
}

/// A bundle argument: an existing regular file (checked again, and verified, when read).
pub fn bundle(path: &Path) -> Result<(), InputError> {
    let what = "bundle";
    let meta = stat(what, path, BUNDLE_HINT)?;
    if !meta.is_file() {
        return Err(InputError::WrongType {
            what: what.into(),
            path: path.display().to_string(),
            kind: kind(&meta),
            wanted: "a bundle file",
            hint: BUNDLE_HINT,
        });
    }
    Ok(())
}

/// Every bundle argument (see [`bundle`]).
pub fn bundles(paths: &[std::path::PathBuf]) -> Result<(), InputError> {
    paths.iter().try_for_each(|p| bundle(p))
}

/// An input file of `what` (a flag such as `--hosts`): an existing regular file.
pub fn input_file(what: &str, path: &Path, hint: &'static str) -> Result<(), InputError> {
    let meta = stat(what, path, hint)?;
    if !meta.is_file() {
        return Err(InputError::WrongType {
            what: what.into(),
            path: path.display().to_string(),
            kind: kind(&meta),
            wanted: "a regular file",
            hint,
        });
    }
    Ok(())
}

/// Every file given to `flag` (see [`input_file`]).
pub fn input_files<P: AsRef<Path>>(
    flag: &str,
    paths: &[P],
    hint: &'static str,
) -> Result<(), InputError> {
    paths
        .iter()
        .try_for_each(|p| input_file(flag, p.as_ref(), hint))
}

/// What to give for each file flag.
pub mod hint {
    pub const PUBKEY: &str = "give a minisign public key (.pub) made by `dossier keygen`";
    pub const TRUSTED_KEYS: &str = "give a file of minisign public keys";
    pub const IDENTITY: &str = "give an age identity file or an unencrypted OpenSSH private key";
    pub const BASELINE: &str = "give a baseline written by `dossier baseline`";
    pub const SIGN: &str = "give a minisign secret key made by `dossier keygen`";
    pub const TSA_CERT: &str = "give the TSA's certificate or the CA that issued it (PEM)";
    pub const SSH_CONFIG: &str = "give an OpenSSH client configuration file, or /dev/null for none";
    pub const FINDINGS: &str = "give a findings.json written by `dossier analyze` or `sweep`";
}

/// `--playbook NAME|FILE` when it names an existing file: not a bundle given by mistake.
pub fn playbook_file(spec: &str) -> Result<(), InputError> {
    use std::io::Read;
    let path = Path::new(spec);
    if !path.is_file() {
        return Ok(());
    }
    let mut magic = [0u8; 4];
    // Opened only once known to be a regular file (a FIFO swapped in is not waited on).
    let n = dossier_bundle::fsio::open_input(path)
        .and_then(|mut f| f.read(&mut magic))
        .unwrap_or(0);
    if n == 4 && &magic == b"PK\x03\x04" {
        return Err(InputError::BundleAsPlaybook {
            what: "--playbook".into(),
            path: path.display().to_string(),
            hint: "give a built-in playbook name (`dossier playbooks`) or a playbook TOML file",
        });
    }
    Ok(())
}

/// An output folder (`--out DIR`): an existing folder, or one that can be made because the
/// nearest existing folder above it is a folder (not a file in the way). Whether it may be
/// written is found when it is created (`fsio::ensure_out_dir`).
pub fn out_dir(what: &str, path: &Path) -> Result<(), InputError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return writable(what, path, path),
        Ok(m) => {
            return Err(InputError::WrongType {
                what: what.into(),
                path: path.display().to_string(),
                kind: kind(&m),
                wanted: "a folder",
                hint: OUT_HINT,
            });
        }
        Err(_) => {}
    }
    blocked_by_file(what, path)
}

/// An output file (`--out FILE`): not a folder, and its folder can be made.
pub fn out_file(what: &str, path: &Path) -> Result<(), InputError> {
    if let Ok(m) = std::fs::metadata(path) {
        if m.is_dir() {
            return Err(InputError::WrongType {
                what: what.into(),
                path: path.display().to_string(),
                kind: "a folder",
                wanted: "a file name",
                hint: "name the file to write",
            });
        }
        return Ok(());
    }
    blocked_by_file(what, path)
}

/// `folder` (`path` or the nearest existing folder above it) as an error when the running
/// user may not create files in it (root may, whatever its mode).
fn writable(what: &str, path: &Path, folder: &Path) -> Result<(), InputError> {
    use nix::unistd::{AccessFlags, access};
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    match access(folder, AccessFlags::W_OK | AccessFlags::X_OK) {
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EROFS) => Err(InputError::NotWritable {
            what: what.into(),
            path: path.display().to_string(),
            folder: folder.display().to_string(),
            hint: OUT_HINT,
        }),
        _ => Ok(()),
    }
}

/// The nearest existing ancestor of `path` that is not a folder, as an error.
fn blocked_by_file(what: &str, path: &Path) -> Result<(), InputError> {
    for up in path.ancestors().skip(1) {
        if up.as_os_str().is_empty() {
            break;
        }
        if let Ok(m) = std::fs::metadata(up) {
            if m.is_dir() {
                return writable(what, path, up);
            }
            return Err(InputError::FileInTheWay {
                what: what.into(),
                path: path.display().to_string(),
                blocker: up.display().to_string(),
                hint: OUT_HINT,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_types_are_named_with_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = root_dir(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(
            e.starts_with("--root ") && e.contains(": does not exist; give the folder"),
            "{e}"
        );
        let e = root_dir(&file).unwrap_err().to_string();
        assert!(e.contains("a regular file, not a folder"), "{e}");
        let e = bundle(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(": a folder, not a bundle file; give bundle files"),
            "{e}"
        );
        bundle(&file).unwrap();
        root_dir(dir.path()).unwrap();
    }

    #[test]
    fn an_output_folder_under_a_file_is_refused_before_anything_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = out_dir("--out", &file.join("a/b")).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "--out {}: {} is a file, not a folder; choose another output folder",
                file.join("a/b").display(),
                file.display()
            )
        );
        assert!(!file.join("a").exists());
        out_dir("--out", &dir.path().join("new/deeper")).unwrap();
        assert!(out_dir("--out", &file).is_err());
        assert!(out_file("--out", dir.path()).is_err());
        out_file("--out", &dir.path().join("x.json")).unwrap();
    }

    #[test]
    fn a_folder_the_user_may_not_write_is_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        let r = out_dir("--out", &ro.join("out"));
        if nix::unistd::geteuid().is_root() {
            // Root may write anywhere: the folder is usable.
            r.unwrap();
        } else {
            let e = r.unwrap_err().to_string();
            assert!(
                e.ends_with(&format!(
                    "{} is not writable by you; choose another output folder",
                    ro.display()
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn a_bundle_given_as_playbook_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("b.zip");
        std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
        let e = playbook_file(zip.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a dossier bundle (zip archive), not a playbook"),
            "{e}"
        );
        playbook_file("triage").unwrap();
    }
}
