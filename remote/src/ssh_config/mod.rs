//! The user's OpenSSH client configuration (`~/.ssh/config`), as far as a sweep needs it.
//!
//! [`SshConfig::load`] reads the file (a missing file is an empty configuration) and the files
//! it `Include`s; [`SshConfig::resolve`] answers "what does ssh(1) use for this host?" with a
//! [`HostConfig`]. OpenSSH semantics are followed where it matters for connecting:
//!
//! - keywords are case-insensitive; `Keyword value` and `Keyword=value`; `"..."` and `'...'`
//!   quote; a `#` at the start of a word ends the line;
//! - `Host` lines take several patterns with `*`, `?` and `!negation` (a negated match rules the
//!   block out); host patterns are matched case-insensitively against the name given to
//!   `resolve` (the alias, before `HostName`);
//! - the first value obtained for a keyword wins, except `IdentityFile`, which accumulates
//!   (duplicates dropped); `ProxyJump` and `ProxyCommand` share one slot as in OpenSSH;
//! - `Match` is supported with `all`, `host`, `originalhost`, `user` and `localuser` (each may
//!   be negated with `!`, pattern lists are comma-separated, all criteria must hold). Blocks
//!   using any other criterion (`exec`, `canonical`, `final`, `localnetwork`, `tagged`, ...)
//!   never apply; [`HostConfig::warnings`] says so, naming the file, the line and what the
//!   block would have set;
//! - `Include` (only when loaded from a file): paths relative to `~/.ssh/`, `~` expanded, glob
//!   patterns (`*`, `?`, `[...]`) sorted, nested at most 16 deep; an Include inside a `Host` or
//!   `Match` block applies only when that block does. A file that does not exist is skipped,
//!   like OpenSSH does;
//! - files must be owned by the user or root and not writable by group or others (OpenSSH's
//!   "Bad owner or permissions"), at most 1 MiB each, UTF-8.
//!
//! Keywords used: HostName (`%h`, `%%`), User, Port, IdentityFile (`~`, `%d` `%u` `%h` `%r`
//! `%n` `%p` `%i` `%%`), IdentitiesOnly, UserKnownHostsFile (the first file), StrictHostKeyChecking,
//! ConnectTimeout. ProxyJump, ProxyCommand and `RefuseConnection yes` cannot be honoured by
//! dossier's transport, so `resolve` lists them in [`HostConfig::unsupported`] and the sweep
//! must refuse such a host rather than connect directly. Some other keywords that change
//! where or how ssh connects (HostKeyAlias, CertificateFile, IdentityAgent, BindAddress, ...)
//! are not honoured either and produce a warning. All other OpenSSH keywords are accepted and
//! ignored; a keyword OpenSSH does not know either is reported by [`SshConfig::warnings`].
//!
//! Nothing here runs a command, resolves a name or opens a socket.
//!
//! One module per concern, lowest first: `limits`, `error`, `local_user`, `host_config` (what
//! `resolve` answers) and `keywords` (the keyword tables); `model` (the parsed form: settings
//! under conditions); `syntax` (splitting lines, values, times) and `pattern` (OpenSSH
//! wildcards, Include globs); `parser` (text and files to the model, following Includes);
//! `resolve` (the model and a host name to a [`HostConfig`]).

mod error;
mod host_config;
mod keywords;
mod limits;
mod local_user;
mod model;
mod parser;
mod pattern;
mod resolve;
mod syntax;

pub use error::SshConfigError;
pub use host_config::{HostConfig, StrictMode};
pub use limits::{MAX_CONFIG_FILE, MAX_INCLUDE_DEPTH};
pub use local_user::LocalUser;
pub use model::SshConfig;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn me() -> LocalUser {
        LocalUser {
            name: "alice".into(),
            home: PathBuf::from("/home/alice"),
            uid: 1000,
        }
    }

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse_as("config", text, me()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cfg_err(text: &str) -> String {
        match SshConfig::parse_as("config", text, me()) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    const REALISTIC: &str = r#"
# ~/.ssh/config of an incident responder
Host bastion
    HostName bastion.corp.example.com
    User jump

Host *.prod.example.com !db-*.prod.example.com
    User ops
    Port 2222
    IdentityFile ~/.ssh/prod_ed25519
    IdentitiesOnly yes

Host db-*.prod.example.com
    ProxyJump bastion

Host web?
    HostName %h.internal.example.com
    StrictHostKeyChecking accept-new

Host lab-* 10.9.*
    UserKnownHostsFile ~/.ssh/known_hosts.lab ~/.ssh/known_hosts.other
    StrictHostKeyChecking=ask
    ConnectTimeout=5
    IdentityFile "~/.ssh/keys/%r@%h"

Host *
    User fallback
    Port 22
    IdentityFile ~/.ssh/id_ed25519
    ServerAliveInterval 30
    ConnectTimeout 10
"#;

    #[test]
    fn realistic_config() {
        let c = cfg(REALISTIC);
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());

        let h = c.resolve("app1.prod.example.com");
        assert_eq!(h.hostname, None);
        assert_eq!(h.user.as_deref(), Some("ops"));
        assert_eq!(h.port, Some(2222));
        assert_eq!(
            h.identity_files,
            [
                PathBuf::from("/home/alice/.ssh/prod_ed25519"),
                PathBuf::from("/home/alice/.ssh/id_ed25519")
            ]
        );
        assert!(h.identities_only);
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(10)));
        assert!(h.unsupported.is_empty());

        // Negation rules the first block out; ProxyJump is reported, not followed.
        let h = c.resolve("db-1.prod.example.com");
        assert_eq!(h.user.as_deref(), Some("fallback"));
        assert_eq!(h.port, Some(22));
        assert!(!h.identities_only);
        assert_eq!(h.unsupported.len(), 1);
        assert!(
            h.unsupported[0].starts_with("ProxyJump bastion (config:14)"),
            "{:?}",
            h.unsupported
        );

        // `?` matches one character; %h expands to the alias.
        let h = c.resolve("web1");
        assert_eq!(h.hostname.as_deref(), Some("web1.internal.example.com"));
        assert_eq!(h.strict, Some(StrictMode::AcceptNew));
        assert_eq!(c.resolve("web12").hostname, None);

        // Several patterns on one line, `Keyword=value`, ask -> yes, first known-hosts
        // file, tokens in a quoted IdentityFile.
        let h = c.resolve("10.9.0.7");
        assert_eq!(h.strict, Some(StrictMode::Yes));
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            h.known_hosts,
            Some(PathBuf::from("/home/alice/.ssh/known_hosts.lab"))
        );
        assert_eq!(
            h.identity_files,
            [
                PathBuf::from("/home/alice/.ssh/keys/fallback@10.9.0.7"),
                PathBuf::from("/home/alice/.ssh/id_ed25519")
            ]
        );

        // Unmatched host: only `Host *`.
        let h = c.resolve("elsewhere");
        assert_eq!(h.user.as_deref(), Some("fallback"));
        assert_eq!(h.strict, None);
        assert_eq!(h.known_hosts, None);

        // Host patterns match case-insensitively.
        assert_eq!(c.resolve("BASTION").user.as_deref(), Some("jump"));
    }

    #[test]
    fn first_value_wins() {
        let c = cfg(
            "Host *\n  User root\n  Port 2200\nHost web\n  User ops\n  Port 2222\n  HostName 10.0.0.5\n",
        );
        let h = c.resolve("web");
        assert_eq!(h.user.as_deref(), Some("root"));
        assert_eq!(h.port, Some(2200));
        assert_eq!(h.hostname.as_deref(), Some("10.0.0.5"));
        // Settings before any Host line apply to every host.
        let c = cfg("User early\nHost web\n  User late\n");
        assert_eq!(c.resolve("web").user.as_deref(), Some("early"));
    }

    #[test]
    fn explicit_user_and_port_win() {
        let c = cfg(
            "Host web\n  User ops\n  Port 2222\n  IdentityFile ~/.ssh/%r-%p-%n-%u-%d-%i\nMatch user admin\n  ConnectTimeout 3\n",
        );
        let h = c.resolve_with("web", Some("admin"), Some(22));
        assert_eq!(h.user.as_deref(), Some("admin"));
        assert_eq!(h.port, Some(22));
        assert_eq!(
            h.identity_files,
            [PathBuf::from(
                "/home/alice/.ssh/admin-22-web-alice-/home/alice-1000"
            )]
        );
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(c.resolve("web").connect_timeout, None);
    }

    #[test]
    fn match_blocks() {
        let c = cfg(r#"
Host short
    HostName short.corp.example.com
Match host *.corp.example.com
    User corp
Match originalhost short !user root
    Port 2201
Match localuser alice
    IdentityFile ~/.ssh/alice
Match !localuser alice
    IdentityFile ~/.ssh/other
Match exec "test -f /tmp/vpn-up"
    ProxyCommand nc -X 5 -x proxy:1080 %h %p
Match all
    ConnectTimeout 1m30s
"#);
        let h = c.resolve("short");
        assert_eq!(h.user.as_deref(), Some("corp"));
        assert_eq!(h.port, Some(2201));
        assert_eq!(h.identity_files, [PathBuf::from("/home/alice/.ssh/alice")]);
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(90)));
        assert!(h.unsupported.is_empty(), "{:?}", h.unsupported);
        assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
        assert_eq!(
            h.warnings[0],
            "config:12: `Match exec test -f /tmp/vpn-up` is not supported by dossier: the block is skipped (it would set ProxyCommand)"
        );
        // `Match host` sees HostName; `!user root` rules out an explicit root.
        assert_eq!(c.resolve_with("short", Some("root"), None).port, None);
        assert_eq!(c.resolve("other").user, None);
    }

    #[test]
    fn proxies_and_refusals() {
        let c = cfg(
            "Host a\n  ProxyCommand ssh -W %h:%p jump\nHost b\n  ProxyJump none\nHost *\n  ProxyJump bastion\nHost c\n  RefuseConnection yes\n",
        );
        let a = c.resolve("a");
        assert_eq!(a.unsupported.len(), 1);
        assert!(a.unsupported[0].starts_with("ProxyCommand ssh -W %h:%p jump (config:2)"));
        // `ProxyJump none` first: no proxy, the later `Host *` ProxyJump does not apply.
        assert!(c.resolve("b").unsupported.is_empty());
        let cc = c.resolve("c");
        assert_eq!(cc.unsupported.len(), 2, "{:?}", cc.unsupported);
        assert!(cc.unsupported[1].starts_with("RefuseConnection yes (config:8)"));
    }

    #[test]
    fn quoting_comments_and_case() {
        let c = cfg(
            "HOST \"my host\" other # comment\n\tuSeR = \"ops\"\n  identityfile '~/.ssh/with space'  # trailing\n  PORT=2022\n  HostName\t\"o\\\"q\"\n",
        );
        let h = c.resolve("my host");
        assert_eq!(h.user.as_deref(), Some("ops"));
        assert_eq!(h.port, Some(2022));
        assert_eq!(h.hostname.as_deref(), Some("o\"q"));
        assert_eq!(c.resolve("OTHER").port, Some(2022));
        assert!(
            cfg_err("User \"o p s\"\n").starts_with("config:1: User \"o p s\" is not a user name")
        );
        assert_eq!(
            h.identity_files,
            [PathBuf::from("/home/alice/.ssh/with space")]
        );
    }

    #[test]
    fn not_honoured_and_unknown_keywords() {
        let c = cfg(
            "IgnoreUnknown UseKeychain,Foo*\nUseKeychain yes\nFooBar 1\nHostKeyAlias other\nFrobnicate yes\nCanonicalizeHostname no\nCertificateFile ~/.ssh/c.pub\n",
        );
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
        assert!(c.warnings()[0].starts_with("config:5: unknown keyword \"frobnicate\""));
        let h = c.resolve("x");
        assert_eq!(
            h.warnings,
            [
                "config:4: HostKeyAlias is not honoured by dossier's SSH transport (ignored)",
                "config:7: CertificateFile is not honoured by dossier's SSH transport (ignored)"
            ]
        );
    }

    #[test]
    fn token_handling() {
        let c = cfg(
            "Host *\n  IdentityFile ~/.ssh/%C\n  IdentityFile %d/.ssh/%%literal\n  IdentityFile ${HOME}/k\n  IdentityFile ~bob/k\n  UserKnownHostsFile none\n",
        );
        let h = c.resolve("x");
        assert_eq!(
            h.identity_files,
            [PathBuf::from("/home/alice/.ssh/%literal")]
        );
        assert_eq!(h.known_hosts, Some(PathBuf::from("/dev/null")));
        assert_eq!(h.warnings.len(), 3, "{:?}", h.warnings);
        assert!(h.warnings[0].contains("config:2: IdentityFile \"~/.ssh/%C\" ignored: token %C"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, expect) in [
            (
                "Host a\n  Port 0\n",
                "config:2: Port \"0\" is not a number 1-65535",
            ),
            ("Host a\n  Port 70000\n", "config:2: Port"),
            (
                "Host a\n  Port 22 23\n",
                "config:2: Port: garbage at end of line",
            ),
            ("Host\n", "config:1: no argument after keyword \"Host\""),
            ("Host a\n  User\n", "config:2: no argument"),
            ("Host a\n  User \"ops\n", "config:2: unterminated quote"),
            (
                "Host a\n  HostName %x.example\n",
                "config:2: HostName: unknown token %x",
            ),
            (
                "Host a\n  IdentityFile ~/.ssh/%q\n",
                "config:2: IdentityFile: unknown token %q",
            ),
            (
                "Host a\n  StrictHostKeyChecking maybe\n",
                "config:2: StrictHostKeyChecking: unsupported option",
            ),
            (
                "Host a\n  IdentitiesOnly perhaps\n",
                "config:2: IdentitiesOnly",
            ),
            (
                "Host a\n  ConnectTimeout soon\n",
                "config:2: ConnectTimeout: invalid time value",
            ),
            ("Match\n", "config:1: no argument"),
            ("Match host\n", "config:1: missing Match criteria for host"),
            ("Match all host x\n", "config:1: 'all' cannot be combined"),
            (
                "Match colour blue\n",
                "config:1: unsupported Match attribute colour",
            ),
            (
                "Host a\n  User o\0ps\n",
                "config:2: line contains control character U+0000",
            ),
            ("=value\n", "config:1: missing keyword"),
        ] {
            let e = cfg_err(text);
            assert!(e.starts_with(expect), "{text:?}: {e}");
        }
    }

    #[test]
    fn parse_does_not_follow_include() {
        let c = cfg("Host web\n  Include conf.d/*\n");
        assert!(c.resolve("db").warnings.is_empty());
        let h = c.resolve("web");
        assert_eq!(h.warnings.len(), 1);
        assert_eq!(
            h.warnings[0],
            "config:2: Include not followed: the configuration was parsed from text, not loaded from a file"
        );
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn home() -> (tempfile::TempDir, LocalUser) {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalUser {
            name: "alice".into(),
            home: dir.path().to_path_buf(),
            uid: nix::unistd::getuid().as_raw(),
        };
        (dir, local)
    }

    #[test]
    fn load_with_includes() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(
            &ssh.join("config"),
            "Include conf.d/*.conf\nHost web\n  Include ~/.ssh/web-only\nHost *\n  User fallback\n",
        );
        write(
            &ssh.join("conf.d/20-db.conf"),
            "Host db\n  User dba\n  Port 2200\n",
        );
        write(
            &ssh.join("conf.d/10-first.conf"),
            "Host db\n  User first\nHost *.lab\n  IdentityFile %d/.ssh/lab\n",
        );
        write(&ssh.join("conf.d/ignored.txt"), "Host db\n  User wrong\n");
        write(&ssh.join("conf.d/.hidden.conf"), "Host db\n  User hidden\n");
        write(&ssh.join("web-only"), "User webops\nHost other\n  Port 1\n");

        let c = SshConfig::load_as(&ssh.join("config"), local.clone()).unwrap();
        // 10-first.conf is read before 20-db.conf (sorted), and first wins.
        let h = c.resolve("db");
        assert_eq!(h.user.as_deref(), Some("first"));
        assert_eq!(h.port, Some(2200));
        let h = c.resolve("x.lab");
        assert_eq!(h.identity_files, [dir.path().join(".ssh/lab")]);
        // The Include inside `Host web` applies only to web; its own Host block ends at the
        // end of the included file.
        let h = c.resolve("web");
        assert_eq!(h.user.as_deref(), Some("webops"));
        assert_eq!(h.port, None);
        assert_eq!(c.resolve("other").port, None);
        assert_eq!(c.resolve("other").user.as_deref(), Some("fallback"));

        // Missing files: an empty configuration; includes that match nothing are skipped.
        let c = SshConfig::load_as(&ssh.join("nope"), local.clone()).unwrap();
        assert_eq!(c.resolve("web"), HostConfig::default());
        write(
            &ssh.join("config2"),
            "Include missing/*.conf nothing\nUser u\n",
        );
        let c = SshConfig::load_as(&ssh.join("config2"), local).unwrap();
        assert_eq!(c.resolve("web").user.as_deref(), Some("u"));
    }

    #[test]
    fn include_errors_name_the_included_file() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(&ssh.join("config"), "Host *\n  Include extra\n");
        write(&ssh.join("extra"), "\n\nPort many\n");
        let e = SshConfig::load_as(&ssh.join("config"), local).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:3: Port \"many\" is not a number 1-65535",
                ssh.join("extra").display()
            )
        );
    }

    #[test]
    fn include_loops_are_depth_limited() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        write(&ssh.join("config"), "Include config\n");
        let e = SshConfig::load_as(&ssh.join("config"), local).unwrap_err();
        assert!(
            e.to_string().contains("Include nested more than 16 deep"),
            "{e}"
        );
    }

    #[test]
    fn hostile_files_are_refused() {
        let (dir, local) = home();
        let ssh = dir.path().join(".ssh");
        let big = ssh.join("big");
        write(&big, &"# padding\n".repeat(110_000));
        let e = SshConfig::load_as(&big, local.clone()).unwrap_err();
        assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");

        let bin = ssh.join("bin");
        write(&bin, "");
        fs::write(&bin, b"Host a\n  User \xff\xfe\n").unwrap();
        let e = SshConfig::load_as(&bin, local.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:2: not valid UTF-8", bin.display())
        );

        let open = ssh.join("open");
        write(&open, "User x\n");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
        let e = SshConfig::load_as(&open, local.clone()).unwrap_err();
        assert!(e.to_string().contains("bad owner or permissions"), "{e}");

        let e = SshConfig::load_as(&ssh, local).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn strict_modes() {
        for (v, mode) in [
            ("yes", StrictMode::Yes),
            ("TRUE", StrictMode::Yes),
            ("ask", StrictMode::Yes),
            ("accept-new", StrictMode::AcceptNew),
            ("no", StrictMode::No),
            ("off", StrictMode::No),
            ("false", StrictMode::No),
        ] {
            let c = cfg(&format!("StrictHostKeyChecking {v}\n"));
            assert_eq!(c.resolve("h").strict, Some(mode), "{v}");
        }
    }
}
