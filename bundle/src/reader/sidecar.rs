//! The sidecar checksum file (`<bundle>.sha256`, `sha256sum` format): the check of the bundle
//! file as a whole, zip headers included.

use super::outcome::Verification;
use dossier_plugin_api::encoding::is_sha256_hex;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Path of the sidecar checksum file of a bundle.
pub fn sidecar_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Parses a sidecar as `sha256sum` writes it: one line `<64 lower-case hex>  <name>` (or
/// ` *<name>`) and its newline, nothing else. Strict, so that no edit of the file, however
/// harmless to a lenient reader (upper-case digits, a trailing line), goes unnoticed.
fn parse_sidecar(text: &str) -> Option<(String, String)> {
    let line = text.strip_suffix('\n')?;
    if line.contains('\n') {
        return None;
    }
    let (digest, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
    let lower = !digest.bytes().any(|b| b.is_ascii_uppercase());
    (is_sha256_hex(digest) && lower).then(|| (digest.to_string(), name.to_string()))
}

pub(super) fn check_sidecar(v: &mut Verification, path: &Path) {
    let side = sidecar_path(path);
    // Opened once, non-blocking, and checked on the descriptor: a FIFO is refused, not read.
    let text = match crate::fsio::open_input(&side) {
        Ok(f) => {
            let mut text = String::new();
            match f.take(4097).read_to_string(&mut text) {
                Ok(n) if n <= 4096 => Ok(text),
                Ok(_) => Err("not a small regular file".into()),
                Err(e) => Err(e.to_string()),
            }
        }
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
            format!(
                "{} is not in sha256sum format (one line: 64 lower-case hex digits, two spaces, the file name)",
                side.display()
            ),
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
        // Edits a lenient reader would not see.
        for edited in [
            format!("{}  x.zip\n", "A".repeat(64)),
            format!("{d}  x.zip"),
            format!("{d}  x.zip\n\n"),
            format!("{d}  x.zip\nmore\n"),
            format!("{d} x.zip\n"),
        ] {
            assert_eq!(parse_sidecar(&edited), None, "{edited:?}");
        }
    }
}
