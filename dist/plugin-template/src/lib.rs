//! A minimal dossier collector plugin: `login-banners` copies `/etc/motd`, `/etc/issue` and
//! `/etc/issue.net` into the bundle (hashed by dossier) and records each with its size and
//! first line. Start from here: rename it, change `collect`, and add an analyzer or a
//! reporter to `export_plugin!` when you need one (see `README.md`).

use dossier_plugin_api::collect::{CollectContext, CollectError, Collector, CollectorInfo};
use std::path::Path;

/// The collector. Plugins are made with `Default`.
#[derive(Debug, Default)]
pub struct LoginBanners;

const FILES: [&str; 3] = ["/etc/motd", "/etc/issue", "/etc/issue.net"];

impl Collector for LoginBanners {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "login-banners".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Login banners (/etc/motd, /etc/issue, /etc/issue.net)".into(),
            after: vec![],
        }
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        for f in FILES {
            let path = Path::new(f);
            // Read through dossier (local, --root image or SSH), copied into the bundle;
            // a missing file gives None, other failures are recorded as issues.
            let Some(c) = ctx.capture(path, 64 << 10) else {
                continue;
            };
            let text = String::from_utf8_lossy(&c.data);
            ctx.emit(&serde_json::json!({
                "kind": "login_banner",
                "path": f,
                "size": c.data.len(),
                "first_line": text.lines().next().unwrap_or_default(),
                "source": c.source_ref(path),
            }))?;
        }
        Ok(())
    }
}

dossier_plugin_abi::export_plugin! {
    name: "login-banners",
    version: env!("CARGO_PKG_VERSION"),
    collector: LoginBanners,
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn banners_are_copied_and_recorded() {
        let host = MemHost::new(false).file("/etc/issue", "Debian GNU/Linux 12 \\n \\l\n");
        let (sink, r) = run_collector(
            &LoginBanners,
            &host,
            serde_json::json!({}),
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("login-banners", "login_banner");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["first_line"], "Debian GNU/Linux 12 \\n \\l");
        assert!(sink.raw.contains_key("raw/etc/issue"));
    }
}
