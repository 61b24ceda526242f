//! How an argv becomes the command line of an exec request: a fixed environment under
//! `/usr/bin/env -i`, optionally `sudo -n`, every argument quoted for a POSIX shell (never a
//! shell string built from collected data).

/// Quotes one argument for a POSIX shell (the remote login shell runs exec requests).
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.,:=@%+".contains(&b))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// The command line sent for `argv`: fixed environment, each argument quoted.
pub fn command_line(argv: &[&str], sudo: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if sudo {
        parts.extend(["/usr/bin/sudo", "-n", "--"].map(String::from));
    }
    parts.extend(
        [
            "/usr/bin/env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL=C",
            "SYSTEMD_COLORS=0",
            "SYSTEMD_PAGER=",
        ]
        .map(String::from),
    );
    parts.extend(argv.iter().map(|a| a.to_string()));
    parts
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_every_argument_one_word() {
        assert_eq!(shell_quote("-qa"), "-qa");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("%{NAME}\\t"), "'%{NAME}\\t'");
        assert_eq!(shell_quote("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        let c = command_line(&["/usr/bin/rpm", "-qa", "--qf", "%{NAME}\\n"], false);
        assert_eq!(
            c,
            "/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SYSTEMD_COLORS=0 \
             SYSTEMD_PAGER= /usr/bin/rpm -qa --qf '%{NAME}\\n'"
        );
        assert!(command_line(&["/bin/true"], true).starts_with("/usr/bin/sudo -n -- /usr/bin/env"));
    }
}
