//! Which build this is: the version line of `dossier --version` and the build string of
//! bundle manifests, both from what `build.rs` recorded (commit, its date, target, profile),
//! so the two always agree.

/// The commit the binary was built from (`DOSSIER_BUILD_COMMIT`, else git, else `unknown`).
pub const COMMIT: &str = env!("DOSSIER_GIT");

/// The commit's date (`YYYY-MM-DD`), empty when not known.
pub const COMMIT_DATE: &str = env!("DOSSIER_GIT_DATE");

/// The target triple.
pub const TARGET: &str = env!("DOSSIER_TARGET");

/// The build profile (`debug` or `release`).
pub const PROFILE: &str = env!("DOSSIER_PROFILE");

/// What `dossier --version` prints after the name: `0.1.0 (abc1234def56 2026-12-03, release)`.
pub const VERSION_LINE: &str = env!("DOSSIER_VERSION_LINE");

/// The build string recorded in manifests (`ToolInfo::build`): commit, target, profile.
pub fn manifest_build() -> String {
    format!("{COMMIT} {TARGET} {PROFILE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_the_commit_and_profile_of_the_manifest_build() {
        assert!(VERSION_LINE.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(VERSION_LINE.contains(&format!("({COMMIT}")));
        assert!(VERSION_LINE.ends_with(&format!(", {PROFILE})")));
        let build = manifest_build();
        assert!(build.starts_with(COMMIT) && build.ends_with(PROFILE));
        assert!(!COMMIT.is_empty());
        assert!(PROFILE == "debug" || PROFILE == "release");
        assert!(COMMIT_DATE.is_empty() || COMMIT_DATE.len() == 10);
    }
}
