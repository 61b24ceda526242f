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
}
