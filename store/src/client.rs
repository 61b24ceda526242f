//! The connection to a bucket and the operations dossier needs: a create-only upload of a
//! local file (multipart, then made visible at once under its name only if no object has that
//! name), listings, ranged downloads. Synchronous: a one-thread tokio runtime drives
//! object_store inside.

use crate::error::classify;
use crate::location::{Location, endpoint_policy};
use crate::{StoreError, profile};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use std::io::{Read, Write};
use std::time::Duration;

/// Size of each uploaded part and each downloaded range (S3's parts are at least 5 MiB).
pub const PART_SIZE: usize = 8 << 20;

/// Uploads in flight at once across the threads sharing a [`Store`] (a sweep's workers):
/// each holds one part in memory, so this bounds the memory of uploading, whatever `-j` is.
pub const MAX_UPLOADS: usize = 4;

/// The folder, under the prefix, of uploads not yet made visible under their name; dossier's
/// readers skip names that start with a dot.
const INCOMING: &str = ".dossier-incoming";

/// The environment variables passed to the S3 client: credentials and their sources (static
/// keys, web identity, container credentials), region, encryption. Endpoints are checked
/// apart; `AWS_ALLOW_HTTP` and `AWS_SKIP_SIGNATURE` are never taken from the environment.
const PASSED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
];

/// The endpoint variables, most specific first.
const ENDPOINTS: &[&str] = &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"];

/// An object in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its name relative to the listed location (`a.zip`, `analysis/report.md`).
    pub name: String,
    pub size: u64,
}

/// A bucket location reached with the environment's credentials.
#[derive(Debug)]
pub struct Store {
    location: Location,
    s3: AmazonS3,
    runtime: tokio::runtime::Runtime,
    /// Uploads in flight (at most [`MAX_UPLOADS`]), and the wait for a free slot.
    uploads: (std::sync::Mutex<usize>, std::sync::Condvar),
}

/// A slot among the [`MAX_UPLOADS`]; freed when dropped.
struct Slot<'a>(&'a (std::sync::Mutex<usize>, std::sync::Condvar));

impl<'a> Slot<'a> {
    fn take(uploads: &'a (std::sync::Mutex<usize>, std::sync::Condvar)) -> Slot<'a> {
        let (count, freed) = uploads;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= MAX_UPLOADS {
            n = freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot(uploads)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let (count, freed) = self.0;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        freed.notify_one();
    }
}

impl Store {
    /// Connects to `location` with the credentials of the environment (or the shared
    /// credentials file's profile); nothing is sent until the first operation.
    pub fn connect(location: &Location) -> Result<Store, StoreError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // The TLS provider of the whole process; an error means one is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region("us-east-1");
        for var in PASSED {
            if let (Some(v), Ok(key)) = (env(var), var.to_ascii_lowercase().parse()) {
                b = b.with_config(key, v);
            }
        }
        let endpoint = ENDPOINTS.iter().find_map(|var| env(var).map(|v| (*var, v)));
        let mut allow_http = false;
        if let Some((var, url)) = &endpoint {
            allow_http = endpoint_policy(var, url)?;
            b = b.with_endpoint(url.trim_end_matches('/'));
        }
        if env("AWS_ACCESS_KEY_ID").is_none() {
            if let Some(k) = profile::keys().map_err(|detail| StoreError::Local {
                url: location.url(""),
                what: "AWS shared credentials file".into(),
                detail,
            })? {
                b = b
                    .with_access_key_id(k.access_key_id)
                    .with_secret_access_key(k.secret_access_key);
                if let Some(t) = k.session_token {
                    b = b.with_token(t);
                }
            }
        }
        b = b
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(200),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(60),
            })
            .with_config(AmazonS3ConfigKey::ConditionalPut, "etag")
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
        let s3 = b
            .build()
            .map_err(|e| classify(&location.url(""), &location.bucket, &e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dossier-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Local {
                url: location.url(""),
                what: "the I/O runtime".into(),
                detail: e.to_string(),
            })?;
        Ok(Store {
            location: location.clone(),
            s3,
            runtime,
            uploads: Default::default(),
        })
    }

    /// The location this store writes to and reads from.
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn fail(&self, name: &str, e: &object_store::Error) -> StoreError {
        classify(&self.location.url(name), &self.location.bucket, e)
    }

    /// Checks that the bucket exists and the credentials may list it (before any work).
    pub fn check(&self) -> Result<(), StoreError> {
        self.list().map(|_| ())
    }

    /// Whether an object named `name` exists under the prefix.
    pub fn exists(&self, name: &str) -> Result<bool, StoreError> {
        let key = Key::from(self.location.key(name));
        match self.runtime.block_on(self.s3.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.fail(name, &e)),
        }
    }

    /// Uploads `size` bytes of `from` as the new object `name`, in parts of [`PART_SIZE`]:
    /// first to a hidden incoming name (nothing appears until the upload completes, and a
    /// failed upload is aborted), then copied to `name` on the condition that no object has
    /// that name (S3's `If-None-Match: *`), so evidence is never overwritten and never
    /// appears under its name before it is whole. At most [`MAX_UPLOADS`] run at once.
    /// Returns the object's URL.
    pub fn upload_new(
        &self,
        from: &mut dyn Read,
        size: u64,
        name: &str,
    ) -> Result<String, StoreError> {
        let url = self.location.url(name);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Local {
            url: url.clone(),
            what: "a random name".into(),
            detail: e.to_string(),
        })?;
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let flat = name.replace('/', "_");
        let incoming = format!("{INCOMING}/{flat}.{hex}");
        let staged = Key::from(self.location.key(&incoming));
        let slot = Slot::take(&self.uploads);
        self.put_multipart(&staged, from, size, name)?;
        drop(slot);
        let target = Key::from(self.location.key(name));
        let copied = self
            .runtime
            .block_on(self.s3.copy_if_not_exists(&staged, &target));
        // The incoming object goes whatever the copy did; a leftover one is hidden anyway.
        let _ = self.runtime.block_on(self.s3.delete(&staged));
        copied.map_err(|e| self.fail(name, &e))?;
        Ok(url)
    }

    /// A multipart upload of `from` to `key`, aborted on any error.
    fn put_multipart(
        &self,
        key: &Key,
        from: &mut dyn Read,
        size: u64,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut upload = self
            .runtime
            .block_on(self.s3.put_multipart(key))
            .map_err(|e| self.fail(name, &e))?;
        let sent = self.send_parts(upload.as_mut(), from, size, name);
        let done = match sent {
            Ok(()) => self
                .runtime
                .block_on(upload.complete())
                .map(|_| ())
                .map_err(|e| self.fail(name, &e)),
            Err(e) => Err(e),
        };
        if done.is_err() {
            let _ = self.runtime.block_on(upload.abort());
        }
        done
    }

    fn send_parts(
        &self,
        upload: &mut dyn object_store::MultipartUpload,
        from: &mut dyn Read,
        size: u64,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut left = size;
        loop {
            let want = usize::try_from(left.min(PART_SIZE as u64)).unwrap_or(PART_SIZE);
            let mut part = vec![0u8; want];
            from.read_exact(&mut part).map_err(|e| StoreError::Local {
                url: self.location.url(name),
                what: "reading the local file".into(),
                detail: e.to_string(),
            })?;
            left -= want as u64;
            self.runtime
                .block_on(upload.put_part(PutPayload::from(part)))
                .map_err(|e| self.fail(name, &e))?;
            if left == 0 {
                return Ok(());
            }
        }
    }

    /// The objects directly under the prefix (not in sub-folders, not hidden), by name.
    pub fn list(&self) -> Result<Vec<Object>, StoreError> {
        let prefix =
            (!self.location.prefix.is_empty()).then(|| Key::from(self.location.prefix.as_str()));
        let r = self
            .runtime
            .block_on(self.s3.list_with_delimiter(prefix.as_ref()))
            .map_err(|e| self.fail("", &e))?;
        let mut out: Vec<Object> = r
            .objects
            .iter()
            .filter_map(|o| {
                let name = o.location.filename()?.to_string();
                (!name.starts_with('.')).then_some(Object { name, size: o.size })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The size of object `name`.
    pub fn size(&self, name: &str) -> Result<u64, StoreError> {
        let key = Key::from(self.location.key(name));
        self.runtime
            .block_on(self.s3.head(&key))
            .map(|m| m.size)
            .map_err(|e| self.fail(name, &e))
    }

    /// Writes object `name` (of `size` bytes, from [`Store::size`] or a listing) to `to`,
    /// a range of [`PART_SIZE`] at a time.
    pub fn download(&self, name: &str, size: u64, to: &mut dyn Write) -> Result<(), StoreError> {
        let key = Key::from(self.location.key(name));
        let mut at = 0u64;
        while at < size {
            let end = size.min(at + PART_SIZE as u64);
            let bytes = self
                .runtime
                .block_on(self.s3.get_range(&key, at..end))
                .map_err(|e| self.fail(name, &e))?;
            if bytes.len() as u64 != end - at {
                return Err(StoreError::Other {
                    url: self.location.url(name),
                    detail: "the object changed size while it was read".into(),
                });
            }
            to.write_all(&bytes).map_err(|e| StoreError::Local {
                url: self.location.url(name),
                what: "writing the local copy".into(),
                detail: e.to_string(),
            })?;
            at = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_max_uploads_hold_a_slot_at_once() {
        let uploads: (std::sync::Mutex<usize>, std::sync::Condvar) = Default::default();
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 * MAX_UPLOADS {
                s.spawn(|| {
                    let _slot = Slot::take(&uploads);
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!((1..=MAX_UPLOADS).contains(&most), "{most} at once");
        assert_eq!(*uploads.0.lock().unwrap(), 0);
    }
}
