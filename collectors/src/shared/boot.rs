//! The boot time of a live host, from `btime` of `/proc/stat` (host facts record it; the
//! `proc` collector turns process start ticks into times with it).

use dossier_plugin_api::Timestamp;

/// `btime` from `/proc/stat` as a timestamp.
pub fn parse_btime(data: &[u8]) -> Option<Timestamp> {
    let s = String::from_utf8_lossy(data);
    let line = s.lines().find(|l| l.starts_with("btime "))?;
    Timestamp::from_unix(line[6..].trim().parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btime_line() {
        let t = parse_btime(b"cpu 1 2 3\nbtime 1755750000\n").unwrap();
        assert_eq!(Some(t), Timestamp::from_unix(1_755_750_000, 0));
        assert!(parse_btime(b"cpu 1 2 3\n").is_none());
    }
}
