//! Opening a plugin library: the owner and mode checks of the file, its folder and every folder
//! above it, then hashing the file and loading it (`dlopen`) through the same open descriptor.
//! Only the plugin host child ([`super::child`]) loads a library; the checks are also used by
//! the registry for the per-user plugin folder.

use super::{PluginLoadError, load_error};
use dossier_plugin_abi::bridge::PluginLib;
use dossier_plugin_abi::{INFO_SYMBOL, PluginInfo};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Refuses a plugin file or folder that anyone but the running user or root could change:
/// owned by another user, or group- or world-writable (a folder with the sticky bit, like
/// `/tmp`, may be: others cannot replace what is ours there, and their files are refused by
/// owner).
pub fn check_owner_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    folder: bool,
) -> Result<(), PluginLoadError> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let what = if folder { "folder" } else { "file" };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(load_error(
            path,
            format!(
                "refused: the plugin {what} is owned by uid {}, not by you (uid {me}) or root",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && !(folder && mode & 0o1000 != 0) {
        return Err(load_error(
            path,
            format!(
                "refused: the plugin {what} is group- or world-writable (mode {mode:04o}); \
                 remove that with chmod go-w"
            ),
        ));
    }
    Ok(())
}

/// Checks a folder and every folder above it, up to `/`: whoever can write any of them can
/// swap what is below (a folder with the sticky bit, like `/tmp`, protects what is ours).
pub fn check_folder_chain(dir: &Path) -> Result<(), PluginLoadError> {
    let real = std::fs::canonicalize(dir).map_err(|e| load_error(dir, e.to_string()))?;
    for d in real.ancestors() {
        let meta = std::fs::metadata(d).map_err(|e| load_error(d, e.to_string()))?;
        check_owner_mode(d, &meta, true)?;
    }
    Ok(())
}

/// Checks the folder that really holds a library file (symbolic links resolved) and every
/// folder above it.
fn check_folder_of(path: &Path) -> Result<(), PluginLoadError> {
    let real = std::fs::canonicalize(path).map_err(|e| load_error(path, e.to_string()))?;
    check_folder_chain(real.parent().unwrap_or(Path::new("/")))
}

/// Largest plugin library read.
const MAX_LIBRARY: u64 = 1 << 30;

/// Hashes a library file and loads it through the same open descriptor; checks its metadata.
/// `hashed` gets the SHA-256 before the library is loaded (before any of its code runs, so
/// what it reports cannot be forged by the library). Loading runs the library's initializers:
/// only the plugin host child calls this.
pub fn open_library(
    path: &Path,
    hashed: impl FnOnce(&str) -> std::io::Result<()>,
) -> Result<PluginLib, PluginLoadError> {
    let mut file = std::fs::File::open(path).map_err(|e| load_error(path, e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| load_error(path, e.to_string()))?;
    if !meta.is_file() {
        return Err(load_error(path, "not a regular file"));
    }
    // The file checked is the open file, hashed and loaded below.
    check_owner_mode(path, &meta, false)?;
    check_folder_of(path)?;
    if meta.len() > MAX_LIBRARY {
        return Err(load_error(path, format!("larger than {MAX_LIBRARY} bytes")));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| load_error(path, e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let sha256 = hex(&h.finalize());
    hashed(&sha256).map_err(|e| load_error(path, e.to_string()))?;
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let target = if by_fd.exists() {
        by_fd
    } else {
        path.to_path_buf()
    };
    let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL;
    // SAFETY: loading a library runs its initializers; that is what loading a plugin means,
    // and the user named this file (or put it in their plugin directory), which is owned by
    // them or root and writable by no one else (checked above). This runs in the plugin host
    // child, never in the dossier process that collects.
    let lib = unsafe { libloading::os::unix::Library::open(Some(&target), flags) }
        .map_err(|e| {
            // The loader names the library as it was opened (`/proc/self/fd/N`): say the
            // file the user gave, once (the message already starts with it).
            let why = e.to_string();
            let why = why
                .replace(&format!("{}: ", target.display()), "")
                .replace(&target.display().to_string(), "the file");
            load_error(
                path,
                format!("not a loadable shared library ({why}); give a plugin built for dossier (a .so file)"),
            )
        })?;
    // The descriptor stays open for the life of the process, like the library: the dynamic
    // loader knows the library by the name `/proc/self/fd/N`.
    std::mem::forget(file);
    // Never unloaded: thread-local destructors of a plugin would crash after `dlclose`.
    let lib: &'static libloading::os::unix::Library = Box::leak(Box::new(lib));
    // SAFETY: a plugin exports `dossier_plugin_info` with exactly this signature.
    let info_fn = unsafe { lib.get::<unsafe extern "C" fn() -> *const PluginInfo>(INFO_SYMBOL) }
        .map_err(|_| {
            load_error(
                path,
                "not a dossier plugin: it exports no `dossier_plugin_info` symbol",
            )
        })?;
    // SAFETY: calling the plugin's metadata accessor, which returns a pointer to static data.
    let info = unsafe { info_fn() };
    let shown = path.display().to_string();
    // SAFETY: the library stays loaded for the rest of the process.
    unsafe { PluginLib::check(info, &shown, &sha256) }.map_err(|e| load_error(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_that_is_not_a_library_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notes.so");
        std::fs::write(&p, "not ELF").unwrap();
        let e = open_library(&p, |_| Ok(())).unwrap_err().to_string();
        assert!(
            e.contains("notes.so") && e.contains("not a loadable shared library"),
            "{e}"
        );
    }

    #[test]
    fn files_and_folders_others_can_write_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.so");
        std::fs::write(&p, "x").unwrap();
        let set = |m: u32| {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
            std::fs::metadata(&p).unwrap()
        };
        assert!(check_owner_mode(&p, &set(0o755), false).is_ok());
        let e = check_owner_mode(&p, &set(0o775), false).unwrap_err();
        assert!(
            e.to_string()
                .contains("group- or world-writable (mode 0775)"),
            "{e}"
        );
        assert!(check_owner_mode(&p, &set(0o757), true).is_err());
        // A sticky folder (like /tmp) may be world-writable; a file may not.
        assert!(check_owner_mode(&p, &set(0o1777), true).is_ok());
        assert!(check_owner_mode(&p, &set(0o1777), false).is_err());
        // A library in such a folder is refused before it is loaded.
        set(0o644);
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
        let e = open_library(&p, |_| Ok(())).unwrap_err().to_string();
        assert!(
            e.contains("plugin folder is group- or world-writable"),
            "{e}"
        );
    }

    #[test]
    fn a_writable_folder_above_the_library_is_refused() {
        // d/open (world-writable, not sticky)/lib/p.so: whoever can write `open` can rename
        // `lib` away and put their own library in its place.
        let d = tempfile::tempdir().unwrap();
        let open = d.path().join("open");
        let lib = open.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let p = lib.join("p.so");
        std::fs::write(&p, "not ELF").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = open_library(&p, |_| Ok(())).unwrap_err().to_string();
        let shown = std::fs::canonicalize(&open).unwrap();
        assert!(
            e.contains(&format!("plugin {}: refused", shown.display()))
                && e.contains("group- or world-writable (mode 0777)"),
            "{e}"
        );
        assert!(check_folder_chain(&lib).is_err());
        // Sticky, like /tmp: allowed; the load then fails only because it is not a library.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = open_library(&p, |_| Ok(())).unwrap_err().to_string();
        assert!(e.contains("not a loadable shared library"), "{e}");
        assert!(check_folder_chain(&lib).is_ok());
    }
}
