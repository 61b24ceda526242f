//! The store's errors, each one line naming the object or location and what to do, with the
//! S3 error classified (credentials refused, no such bucket, server unreachable, object
//! already there) from the response the client got.

/// Why an object-storage operation failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: {why}")]
    BadUrl { url: String, why: String },
    #[error("{var} {url}: {why}")]
    Endpoint {
        var: String,
        url: String,
        why: String,
    },
    #[error(
        "{url}: the credentials were refused ({detail}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to a key of this account"
    )]
    Credentials { url: String, detail: String },
    #[error("{url}: the bucket {bucket} does not exist; create it or give another bucket")]
    NoBucket { url: String, bucket: String },
    #[error(
        "{url}: already exists in the bucket; evidence is never overwritten, give another prefix"
    )]
    Exists { url: String },
    #[error("{url}: not found in the bucket")]
    NotFound { url: String },
    #[error("{url}: the object store could not be reached ({detail})")]
    Unreachable { url: String, detail: String },
    #[error("{url}: {detail}")]
    Other { url: String, detail: String },
    #[error("{url}: {what}: {detail}")]
    Local {
        url: String,
        what: String,
        detail: String,
    },
}

/// The error of an operation on `url` in `bucket`, from object_store's.
pub(crate) fn classify(url: &str, bucket: &str, e: &object_store::Error) -> StoreError {
    let text = chain(e);
    let url = url.to_string();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if matches!(e, object_store::Error::AlreadyExists { .. }) {
        return StoreError::Exists { url };
    }
    if has(&["NoSuchBucket"]) {
        return StoreError::NoBucket {
            url,
            bucket: bucket.to_string(),
        };
    }
    if has(&[
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "InvalidToken",
        "403 Forbidden",
        "401 Unauthorized",
    ]) || matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) {
        let code = s3_code(&text).unwrap_or("access denied");
        return StoreError::Credentials {
            url,
            detail: code.to_string(),
        };
    }
    if matches!(e, object_store::Error::NotFound { .. }) {
        return StoreError::NotFound { url };
    }
    if has(&[
        "error sending request",
        "Connection refused",
        "connection closed",
        "Connection reset",
        "timed out",
        "dns error",
    ]) {
        return StoreError::Unreachable {
            url,
            detail: short(&root_cause(e)),
        };
    }
    StoreError::Other {
        url,
        detail: short(&text),
    }
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The innermost cause of `e` (`Connection refused (os error 111)`).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// The `<Code>` of an S3 error body in `text`.
fn s3_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(&text[start..start + len])
}

/// `text` on one line, at most 300 characters (an S3 error body can be long).
fn short(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &one[..i]),
        None => one,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_codes_and_short_lines() {
        let body = "HTTP 403: <Error><Code>InvalidAccessKeyId</Code><Message>x</Message></Error>";
        assert_eq!(s3_code(body), Some("InvalidAccessKeyId"));
        assert_eq!(s3_code("no code"), None);
        let long = format!("a\nb{}", "c".repeat(400));
        let s = short(&long);
        assert!(
            !s.contains('\n') && s.ends_with("...") && s.len() < 310,
            "{s}"
        );
    }
}
