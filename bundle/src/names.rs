//! Member names inside a bundle, and the checks a reader applies to names it did not write.
//!
//! Raw copies are stored as `raw/<absolute source path>`, with the path in record text (see
//! `dossier_plugin_api::encoding`) and a backslash written `%5C` (zip tools treat it as a
//! separator). Output of commands run on a host goes under `cmd/`.

use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};

/// Member name for a source: an absolute host path, or a command subject (`exec:...`).
pub fn raw_member_name(source: &str) -> String {
    if let Some(path) = source.strip_prefix('/') {
        let parts: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| match c {
                "." => "%2E".to_string(),
                ".." => "%2E%2E".to_string(),
                other => other.replace('\\', "%5C"),
            })
            .collect();
        format!("raw/{}", parts.join("/"))
    } else {
        let word = source
            .trim_start_matches("exec:")
            .split_whitespace()
            .next()
            .unwrap_or("command");
        let base: String = word
            .rsplit('/')
            .next()
            .unwrap_or(word)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let digest = hex(&Sha256::digest(source.as_bytes()));
        format!(
            "cmd/{}-{}.txt",
            if base.is_empty() { "command" } else { &base },
            &digest[..12]
        )
    }
}

/// Why a member name from an untrusted bundle is unsafe, if it is.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.starts_with('/') {
        return Some("absolute path");
    }
    if name.contains('\\') {
        return Some("backslash in name");
    }
    if name.contains('\0') {
        return Some("NUL in name");
    }
    if name.len() > 4096 {
        return Some("name longer than 4096 bytes");
    }
    if name.split('/').any(|c| c == "..") {
        return Some("parent-directory component (..)");
    }
    if name.split('/').any(|c| c.is_empty() || c == ".") && !name.ends_with('/') {
        return Some("empty or '.' component");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Some("drive-letter path");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(raw_member_name("/etc/crontab"), "raw/etc/crontab");
        assert_eq!(
            raw_member_name("/etc/systemd/system/a\\x2db.service"),
            "raw/etc/systemd/system/a%5Cx2db.service"
        );
        assert_eq!(raw_member_name("/a/../b"), "raw/a/%2E%2E/b");
        assert!(raw_member_name("exec:/usr/bin/rpm -qa").starts_with("cmd/rpm-"));
        for n in [
            raw_member_name("/x/y"),
            raw_member_name("/a/../b"),
            raw_member_name("exec:rpm"),
        ] {
            assert_eq!(unsafe_name(&n), None, "{n}");
        }
    }

    #[test]
    fn unsafe_names() {
        assert!(unsafe_name("../evil").is_some());
        assert!(unsafe_name("raw/../../evil").is_some());
        assert!(unsafe_name("/etc/passwd").is_some());
        assert!(unsafe_name("raw\\..\\x").is_some());
        assert!(unsafe_name("C:/x").is_some());
        assert!(unsafe_name("raw//x").is_some());
        assert_eq!(unsafe_name("records/proc.jsonl"), None);
    }
}
