//! A parser for systemd unit files and drop-ins, as systemd reads them: sections, `Key=Value`
//! lines, `#`/`;` comments, backslash continuation lines (with comment lines inside them
//! skipped), CRLF endings, and lines it cannot make sense of kept as warnings, not dropped.

use dossier_plugin_api::encoding::bytes_to_text;

/// Longest value kept in a record; longer ones are cut and a warning added.
pub const MAX_VALUE: usize = 64 << 10;

/// One assignment in a unit file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub section: String,
    pub key: String,
    pub value: String,
    /// 1-based line where the assignment starts.
    pub line: u32,
}

/// The directives of one file and the lines that were not understood.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitFile {
    pub directives: Vec<Directive>,
    pub warnings: Vec<String>,
}

/// Parses unit-file bytes. Never fails: what is not understood becomes a warning.
pub fn parse(data: &[u8]) -> UnitFile {
    let mut out = UnitFile::default();
    let mut section: Option<String> = None;
    let mut pending: Option<(Vec<u8>, u32)> = None;
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let lineno = (i + 1) as u32;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let t = trim(raw);
        if let Some((acc, start)) = pending.as_mut() {
            // Inside a continuation: comment lines are skipped, the rest is appended.
            if t.starts_with(b"#") || t.starts_with(b";") {
                continue;
            }
            if let Some(body) = t.strip_suffix(b"\\") {
                acc.push(b' ');
                acc.extend_from_slice(body);
                continue;
            }
            acc.push(b' ');
            acc.extend_from_slice(t);
            let (acc, start) = (std::mem::take(acc), *start);
            pending = None;
            assign(&mut out, &section, &acc, start);
            continue;
        }
        if t.is_empty() || t.starts_with(b"#") || t.starts_with(b";") {
            continue;
        }
        if t.starts_with(b"[") {
            if t.ends_with(b"]") && t.len() > 2 {
                section = Some(bytes_to_text(&t[1..t.len() - 1]));
            } else {
                out.warnings.push(format!(
                    "line {lineno}: malformed section header: {}",
                    clip(&bytes_to_text(t))
                ));
            }
            continue;
        }
        if let Some(body) = t.strip_suffix(b"\\") {
            pending = Some((body.to_vec(), lineno));
            continue;
        }
        assign(&mut out, &section, t, lineno);
    }
    if let Some((acc, start)) = pending {
        // A continuation at end of file: systemd takes what it has.
        assign(&mut out, &section, &acc, start);
    }
    out
}

fn assign(out: &mut UnitFile, section: &Option<String>, line: &[u8], lineno: u32) {
    let Some(eq) = line.iter().position(|b| *b == b'=') else {
        out.warnings.push(format!(
            "line {lineno}: not an assignment: {}",
            clip(&bytes_to_text(line))
        ));
        return;
    };
    let key = bytes_to_text(trim(&line[..eq]));
    let mut value = bytes_to_text(trim(&line[eq + 1..]));
    let Some(section) = section else {
        out.warnings.push(format!(
            "line {lineno}: assignment outside any section: {}",
            clip(&key)
        ));
        return;
    };
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == '@')
    {
        out.warnings
            .push(format!("line {lineno}: invalid key: {}", clip(&key)));
        return;
    }
    if value.len() > MAX_VALUE {
        let mut cut = MAX_VALUE;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
        out.warnings.push(format!(
            "line {lineno}: value of {} longer than {MAX_VALUE} bytes, cut",
            clip(&key)
        ));
    }
    out.directives.push(Directive {
        section: section.clone(),
        key,
        value,
        line: lineno,
    });
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn clip(s: &str) -> String {
    if s.len() <= 120 {
        return s.to_string();
    }
    let mut cut = 120;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(u: &UnitFile) -> Vec<(String, String, String)> {
        u.directives
            .iter()
            .map(|d| (d.section.clone(), d.key.clone(), d.value.clone()))
            .collect()
    }

    #[test]
    fn ordinary_unit() {
        let u = parse(b"# comment\n[Unit]\nDescription=Python helper\n\n[Service]\nExecStart=/var/log/log -c /var/log/.cfg\nRestart=always\n; other comment\n[Install]\nWantedBy=multi-user.target\n");
        assert_eq!(
            kv(&u),
            vec![
                ("Unit".into(), "Description".into(), "Python helper".into()),
                (
                    "Service".into(),
                    "ExecStart".into(),
                    "/var/log/log -c /var/log/.cfg".into()
                ),
                ("Service".into(), "Restart".into(), "always".into()),
                (
                    "Install".into(),
                    "WantedBy".into(),
                    "multi-user.target".into()
                ),
            ]
        );
        assert!(u.warnings.is_empty());
        assert_eq!(u.directives[1].line, 6);
    }

    #[test]
    fn crlf_and_continuations() {
        let u = parse(b"[Service]\r\nExecStart=/bin/sh -c \\\r\n  'echo one; \\\n# a comment inside\n  echo two'\r\nUser=nobody\r\n");
        assert_eq!(u.directives[0].value, "/bin/sh -c  'echo one;  echo two'");
        assert_eq!(u.directives[0].line, 2);
        assert_eq!(u.directives[1].value, "nobody");
        assert!(u.warnings.is_empty());
    }

    #[test]
    fn garbage_becomes_warnings_not_errors() {
        let mut data = b"ExecStart=/early\n[Service\n\x00\xff\xfe binary junk\n[Service]\n=novalue\nExecStart=/ok\nbad key=1\n".to_vec();
        data.extend_from_slice(b"ExecStart=/tail \\");
        let u = parse(&data);
        assert_eq!(
            kv(&u),
            vec![
                ("Service".into(), "ExecStart".into(), "/ok".into()),
                ("Service".into(), "ExecStart".into(), "/tail".into())
            ]
        );
        assert_eq!(u.warnings.len(), 5, "{:?}", u.warnings);
        assert!(
            u.warnings.iter().any(|w| w.contains("%00%FF%FE")),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn very_long_values_are_cut() {
        let mut data = b"[Service]\nExecStart=/x ".to_vec();
        data.extend(std::iter::repeat_n(b'a', MAX_VALUE + 100));
        let u = parse(&data);
        assert_eq!(u.directives[0].value.len(), MAX_VALUE);
        assert_eq!(u.warnings.len(), 1);
    }
}
