//! Reading a `--hosts` file from disk (a regular file, bounded in size, UTF-8) before it is
//! parsed as an inventory.

use super::error::TargetError;
use super::inventory::{HostsFile, parse_hosts_file};
use super::limits::MAX_HOSTS_FILE;
use std::io::Read;
use std::path::Path;

/// Reads and parses a `--hosts` file (at most [`MAX_HOSTS_FILE`] bytes, UTF-8).
pub fn load_hosts_file(path: &Path) -> Result<HostsFile, TargetError> {
    let name = path.display().to_string();
    let file_err = |message: String| TargetError::File {
        file: name.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file_err(e.to_string()))?;
    if !meta.is_file() {
        return Err(file_err("not a regular file".into()));
    }
    if meta.len() > MAX_HOSTS_FILE {
        return Err(file_err(format!(
            "larger than {MAX_HOSTS_FILE} bytes ({} bytes)",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_HOSTS_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| file_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_HOSTS_FILE {
        return Err(file_err(format!("larger than {MAX_HOSTS_FILE} bytes")));
    }
    parse_hosts_bytes(&name, &bytes)
}

/// Parses hosts-file bytes, refusing text that is not UTF-8 with the line it happens on.
pub fn parse_hosts_bytes(name_for_errors: &str, bytes: &[u8]) -> Result<HostsFile, TargetError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_hosts_file(name_for_errors, text),
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(TargetError::Inventory {
                file: name_for_errors.to_string(),
                line,
                message: format!("not valid UTF-8 (byte offset {at}); save the file as UTF-8 text"),
            })
        }
    }
}
