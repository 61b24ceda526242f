//! Where evidence goes: an `s3://bucket/prefix` location, checked before anything runs, and
//! the endpoint policy (an S3-compatible server named by `AWS_ENDPOINT_URL`; plain http only
//! to a loopback address).

use crate::StoreError;

/// A bucket and a prefix inside it (no leading or trailing `/`; empty for the bucket's top).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    /// `Some` for an `s3://` URL (checked), `None` for anything else (a local path).
    pub fn parse(text: &str) -> Result<Option<Location>, StoreError> {
        let Some(rest) = text.strip_prefix("s3://") else {
            return Ok(None);
        };
        let bad = |why: &str| StoreError::BadUrl {
            url: text.to_string(),
            why: why.to_string(),
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(bad(
                "the bucket name must be 3 to 63 lowercase letters, digits, '-' or '.'",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        for part in prefix.split('/').filter(|_| !prefix.is_empty()) {
            if part.is_empty() || part == "." || part == ".." {
                return Err(bad("the prefix has an empty, '.' or '..' part"));
            }
            if part.chars().any(|c| c.is_control() || c == '\\') {
                return Err(bad("the prefix has a control character or '\\'"));
            }
        }
        Ok(Some(Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }))
    }

    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The `s3://` URL of `name` under the prefix (of the prefix itself for "").
    pub fn url(&self, name: &str) -> String {
        let key = if name.is_empty() {
            self.prefix.clone()
        } else {
            self.key(name)
        };
        if key.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{key}", self.bucket)
        }
    }

    /// The location of `name` under this one (a sub-folder such as `analysis`).
    pub fn join(&self, name: &str) -> Location {
        Location {
            bucket: self.bucket.clone(),
            prefix: self.key(name),
        }
    }
}

/// Whether an endpoint URL may be used, and whether it is plain http: https anywhere, http
/// only to 127.0.0.0/8, `::1` or `localhost` (a local test server; never credentials in clear
/// over a network).
pub fn endpoint_policy(var: &str, url: &str) -> Result<bool, StoreError> {
    // A URL with a user and password in it is not repeated in the message.
    let shown = if url.contains('@') {
        "(not shown)"
    } else {
        url
    };
    let refuse = |why: &str| StoreError::Endpoint {
        var: var.to_string(),
        url: shown.to_string(),
        why: why.to_string(),
    };
    if url.starts_with("https://") {
        return Ok(false);
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(refuse("give an https:// URL"));
    };
    if url.contains('@') {
        return Err(refuse("credentials do not belong in the URL"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if loopback {
        Ok(true)
    } else {
        Err(refuse(
            "plain http only to a loopback address (127.0.0.1, ::1, localhost); give https://",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let l = Location::parse("s3://evidence-1/case/shard-0/")
            .unwrap()
            .unwrap();
        assert_eq!(l.bucket, "evidence-1");
        assert_eq!(l.prefix, "case/shard-0");
        assert_eq!(l.url("a.zip"), "s3://evidence-1/case/shard-0/a.zip");
        assert_eq!(
            l.join("analysis").url("x"),
            "s3://evidence-1/case/shard-0/analysis/x"
        );
        let top = Location::parse("s3://bucket").unwrap().unwrap();
        assert_eq!(top.key("a.zip"), "a.zip");
        assert_eq!(top.url(""), "s3://bucket");
        assert_eq!(l.url(""), "s3://evidence-1/case/shard-0");
        assert_eq!(Location::parse("/tmp/out").unwrap(), None);
    }

    #[test]
    fn refuses_bad_buckets_and_prefixes() {
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-bucket",
            "s3://bucket/a//b",
            "s3://bucket/a/../b",
            "s3://bucket/a\u{1}",
        ] {
            let e = Location::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{bad}: ")), "{e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(endpoint_policy("V", "https://s3.example.org"), Ok(false));
        assert_eq!(endpoint_policy("V", "http://127.0.0.1:9000"), Ok(true));
        assert_eq!(endpoint_policy("V", "http://[::1]:9000/"), Ok(true));
        assert_eq!(endpoint_policy("V", "http://localhost"), Ok(true));
        for bad in [
            "http://10.0.0.1:9000",
            "http://s3.example.org",
            "http://127.0.0.1.example.org",
            "http://user:pw@127.0.0.1",
            "ftp://127.0.0.1",
        ] {
            let e = endpoint_policy("AWS_ENDPOINT_URL", bad)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("AWS_ENDPOINT_URL "), "{e}");
            assert!(!e.contains("pw"), "{e}");
        }
    }
}
