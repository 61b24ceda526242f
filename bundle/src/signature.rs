//! Bundle signatures in the minisign format: key pairs (`dossier keygen`), the detached
//! signature `BUNDLE.minisig` over the whole bundle file, the signed head of the custody
//! ledger (`custody.jsonl.minisig`), and their checks against trusted public keys. The format is minisign's own, so a third party can check a bundle with the stock
//! `minisign -V -p KEY.pub -m BUNDLE` and the public key alone.
//!
//! A signature proves that the holder of the secret key signed exactly these bytes; it says
//! nothing about whether what was collected was true, nor when it was signed (the trusted
//! comment's content is the signer's word).

use crate::fsio;
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Secret key file name written by [`keygen`].
pub const SECRET_KEY_NAME: &str = "dossier.key";
/// Public key file name written by [`keygen`].
pub const PUBLIC_KEY_NAME: &str = "dossier.pub";
/// Suffix of a detached signature (`BUNDLE.zip.minisig`, as `minisign -V -m BUNDLE` expects).
pub const SIGNATURE_SUFFIX: &str = ".minisig";
/// Largest key or signature file read (they are a few hundred bytes).
const MAX_SMALL_FILE: u64 = 64 * 1024;

/// Signing and signature errors.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(
        "secret key {path} is readable by group or others (mode {mode:04o}); chmod 600 it first"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{path}: not a minisign {what}: {message}")]
    Format {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("secret key {path}: cannot unlock it (wrong passphrase?): {message}")]
    Unlock { path: PathBuf, message: String },
    #[error("signing {path}: {message}")]
    Sign { path: PathBuf, message: String },
    #[error("signature {path}: missing")]
    Missing { path: PathBuf },
    /// A signature file edited where its signature does not reach (see [`read_signature`]).
    #[error("signature {path} was changed: {message}")]
    Changed { path: PathBuf, message: String },
    /// A signed bundle whose custody ledger or ledger head is gone.
    #[error(
        "{missing} (the bundle is signed, and signing writes the custody ledger and its signed head beside it: deleted?; verify a bundle copied without its case directory with --no-ledger)"
    )]
    CustodyMissing { missing: String },
    #[error("trusted keys {path}: {message}")]
    TrustFile { path: PathBuf, message: String },
    #[error("signature {path}: made by key {key_id}, which is not among the trusted keys")]
    UnknownKey { path: PathBuf, key_id: String },
    #[error("signature {path} does not verify with key {key_id}: {message}")]
    Bad {
        path: PathBuf,
        key_id: String,
        message: String,
    },
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SignError {
    SignError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The key id minisign prints: the key number as a little-endian u64, 16 upper-case hex digits.
pub fn key_id_of(keynum: &[u8]) -> String {
    let mut b = [0u8; 8];
    let n = keynum.len().min(8);
    b[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(b))
}

/// The two files of a new key pair.
#[derive(Debug)]
pub struct KeyFiles {
    pub secret: PathBuf,
    pub public: PathBuf,
    pub key_id: String,
}

/// Makes an Ed25519 key pair in `dir`: the secret key (encrypted with `passphrase`, created
/// 0600, exclusively: an existing file is never overwritten) and the public key (0644).
pub fn keygen(dir: &Path, passphrase: &str) -> Result<KeyFiles, SignError> {
    let secret = dir.join(SECRET_KEY_NAME);
    let public = dir.join(PUBLIC_KEY_NAME);
    for p in [&secret, &public] {
        if p.symlink_metadata().is_ok() {
            return Err(io_err(p, "exists; a key is never overwritten"));
        }
    }
    let kp = KeyPair::generate_encrypted_keypair(Some(passphrase.to_string())).map_err(|e| {
        SignError::Sign {
            path: secret.clone(),
            message: e.to_string(),
        }
    })?;
    let key_id = key_id_of(kp.pk.keynum());
    let sk_text = kp
        .sk
        .to_box(Some(&format!("dossier secret key {key_id}")))
        .map_err(|e| io_err(&secret, e))?
        .into_string();
    let pk_text = kp
        .pk
        .to_box()
        .map_err(|e| io_err(&public, e))?
        .into_string();
    write_new(&secret, sk_text.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public, pk_text.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&secret);
        return Err(e);
    }
    fsio::sync_dir(dir);
    Ok(KeyFiles {
        secret,
        public,
        key_id,
    })
}

/// Creates `path` exclusively through [`fsio::create_new_private`], writes, syncs and sets `mode`.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), SignError> {
    let mut f = fsio::create_new_private(path).map_err(|e| io_err(path, e))?;
    let r = f
        .write_all(data)
        .and_then(|()| f.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| f.sync_all());
    if let Err(e) = r {
        let _ = std::fs::remove_file(path);
        return Err(io_err(path, e));
    }
    Ok(())
}

/// Reads a small file opened as `f` (key or signature).
fn read_small(path: &Path, f: File) -> Result<String, SignError> {
    let mut s = String::new();
    f.take(MAX_SMALL_FILE)
        .read_to_string(&mut s)
        .map_err(|e| io_err(path, e))?;
    Ok(s)
}

/// An unlocked signing key.
pub struct SigningKey {
    sk: SecretKey,
    pk: PublicKey,
    key_id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.key_id)
    }
}

impl SigningKey {
    /// Loads and unlocks a secret key file. Refused when group or others may read it, or when
    /// it is not a regular file.
    pub fn load(path: &Path, passphrase: &str) -> Result<SigningKey, SignError> {
        let f = fsio::open_input(path).map_err(|e| io_err(path, e))?;
        let mode = f.metadata().map_err(|e| io_err(path, e))?.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SignError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = read_small(path, f)?;
        let format = |e: minisign::PError| SignError::Format {
            path: path.to_path_buf(),
            what: "secret key",
            message: e.to_string(),
        };
        let sk_box = SecretKeyBox::from_string(&text).map_err(format)?;
        let sk = sk_box
            .into_secret_key(Some(passphrase.to_string()))
            .map_err(|e| SignError::Unlock {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let pk = PublicKey::from_secret_key(&sk).map_err(format)?;
        let key_id = key_id_of(pk.keynum());
        Ok(SigningKey { sk, pk, key_id })
    }

    /// The key id (as `minisign` prints it).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Writes `BUNDLE.minisig` (created exclusively through fsio) over the whole bundle file,
    /// its trusted comment naming the bundle's file name and SHA-256. Returns its path.
    pub fn sign_bundle(&self, bundle: &Path, sha256: &str) -> Result<PathBuf, SignError> {
        let sig_path = signature_path(bundle);
        let name = crate::ledger::bundle_name(bundle);
        let trusted = format!("dossier bundle file:{name} sha256:{sha256}");
        let untrusted = bundle_comment(&name, &self.key_id);
        let data = fsio::open_input(bundle).map_err(|e| io_err(bundle, e))?;
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            std::io::BufReader::with_capacity(1 << 20, data),
            Some(&trusted),
            Some(&untrusted),
        )
        .map_err(|e| SignError::Sign {
            path: bundle.to_path_buf(),
            message: e.to_string(),
        })?;
        write_new(&sig_path, sig.into_string().as_bytes(), 0o600)?;
        if let Some(dir) = sig_path.parent() {
            fsio::sync_dir(dir);
        }
        Ok(sig_path)
    }
}

impl SigningKey {
    /// Signs the custody ledger of `dir` as it is now (`custody.jsonl.minisig`, replaced
    /// through a fresh temporary file and a rename), holding the ledger's lock so that no
    /// append lands between reading and signing and an older head never replaces a newer one.
    /// The trusted comment gives the number of lines signed: later unsigned appends (`verify`,
    /// `analyze`) leave the signed prefix checkable, and truncating or editing it is detected.
    pub fn sign_ledger_head(&self, dir: &Path) -> Result<PathBuf, SignError> {
        use nix::fcntl::{Flock, FlockArg};
        let path = dir.join(crate::ledger::LEDGER_NAME);
        let file = fsio::open_regular(&path).map_err(|e| io_err(&path, e))?;
        let mut file =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io_err(&path, e))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|e| io_err(&path, e))?;
        let lines = data.iter().filter(|&&b| b == b'\n').count();
        let data = &data[..data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
        let trusted = format!(
            "dossier ledger head lines:{lines} sha256:{}",
            dossier_plugin_api::encoding::hex(&<sha2::Sha256 as sha2::Digest>::digest(data))
        );
        let untrusted = head_comment(&self.key_id);
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            data,
            Some(&trusted),
            Some(&untrusted),
        )
        .map_err(|e| SignError::Sign {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tmp =
            fsio::write_unique_synced(dir, ".custody-head-", ".tmp", sig.into_string().as_bytes())
                .map_err(|e| io_err(dir, e))?;
        let head = ledger_head_path(dir);
        if let Err(e) = std::fs::rename(&tmp, &head) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&head, e));
        }
        fsio::sync_dir(dir);
        drop(file);
        Ok(head)
    }
}

/// The untrusted comment dossier writes in a bundle's signature. It is not signed, so
/// [`verify_bundle`] requires it exactly: an edit of it is a change of the signature file.
fn bundle_comment(name: &str, key_id: &str) -> String {
    format!("dossier signature of {name} by key {key_id}")
}

/// The untrusted comment of a ledger head signature (required exactly, as [`bundle_comment`]).
fn head_comment(key_id: &str) -> String {
    format!("dossier custody ledger head by key {key_id}")
}

/// The signed head of the custody ledger in `dir`.
pub fn ledger_head_path(dir: &Path) -> PathBuf {
    dir.join(format!("{}{SIGNATURE_SUFFIX}", crate::ledger::LEDGER_NAME))
}

/// A custody ledger whose signed head verified.
#[derive(Debug, Clone)]
pub struct LedgerHead {
    pub key_id: String,
    /// Who holds that key ([`TrustedKey::name`]).
    pub signer: String,
    /// Lines covered by the signature.
    pub signed_lines: usize,
    /// Lines appended after it (unsigned: `verify`, `analyze`).
    pub unsigned_after: usize,
}

/// Checks the signed head of the custody ledger in `dir` against `keys`: the first
/// `lines:N` lines must be exactly what was signed (a truncated or edited ledger fails), and,
/// with `bundle`, they must hold that bundle's `signed` entry (an older head put back fails).
pub fn verify_ledger_head(
    dir: &Path,
    keys: &[TrustedKey],
    bundle: Option<&str>,
) -> Result<LedgerHead, SignError> {
    let head = ledger_head_path(dir);
    let path = dir.join(crate::ledger::LEDGER_NAME);
    let missing: Vec<String> = [&path, &head]
        .into_iter()
        .filter(|p| {
            p.symlink_metadata()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        })
        .map(|p| format!("{}: missing", p.display()))
        .collect();
    if !missing.is_empty() {
        return Err(SignError::CustodyMissing {
            missing: missing.join(", "),
        });
    }
    let (sig, key) = read_signature(&head, keys)?;
    let bad = |message: String| SignError::Bad {
        path: head.clone(),
        key_id: key.key_id.clone(),
        message,
    };
    untrusted_is(&head, &sig, &head_comment(&key.key_id))?;
    let trusted = sig.trusted_comment().map_err(|e| bad(e.to_string()))?;
    let lines: usize = trusted
        .split_whitespace()
        .find_map(|w| w.strip_prefix("lines:"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad(format!("not a ledger head: {trusted:?}")))?;
    let f = fsio::open_regular(&path).map_err(|e| io_err(&path, e))?;
    let mut data = Vec::new();
    f.take(1 << 30)
        .read_to_end(&mut data)
        .map_err(|e| io_err(&path, e))?;
    let ends: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    if ends.len() < lines {
        return Err(bad(format!(
            "the custody ledger was truncated: its signed head covers {lines} lines, it has {}",
            ends.len()
        )));
    }
    let prefix = &data[..if lines == 0 { 0 } else { ends[lines - 1] }];
    minisign::verify(
        &key.pk,
        &sig,
        std::io::Cursor::new(prefix),
        true,
        false,
        false,
    )
    .map_err(|e| {
        bad(format!(
            "the first {lines} lines of the custody ledger are not what was signed (edited): {e}"
        ))
    })?;
    if let Some(name) = bundle {
        let signed_here = prefix.split(|&b| b == b'\n').any(|l| {
            serde_json::from_slice::<crate::ledger::Entry>(l)
                .is_ok_and(|e| e.action == "signed" && e.bundle == name)
        });
        if !signed_here {
            return Err(bad(format!(
                "the signed head of the custody ledger has no `signed` entry for {name} (an older head?)"
            )));
        }
    }
    Ok(LedgerHead {
        key_id: key.key_id.clone(),
        signer: key.name.clone(),
        signed_lines: lines,
        unsigned_after: ends.len() - lines,
    })
}

/// Reads a signature file and finds the trusted key that made it.
fn read_signature<'k>(
    sig_path: &Path,
    keys: &'k [TrustedKey],
) -> Result<(SignatureBox, &'k TrustedKey), SignError> {
    let f = match fsio::open_input(sig_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SignError::Missing {
                path: sig_path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err(sig_path, e)),
    };
    let text = read_small(sig_path, f)?;
    let sig = SignatureBox::from_string(&text).map_err(|e| SignError::Format {
        path: sig_path.to_path_buf(),
        what: "signature",
        message: e.to_string(),
    })?;
    // minisign's parser trims blanks around the base64 lines and the trusted comment and
    // ignores what follows the fourth line: a file it reads the same after such an edit is
    // still a changed file. Only the exact bytes minisign writes for this signature pass.
    if sig.to_string() != text {
        return Err(SignError::Changed {
            path: sig_path.to_path_buf(),
            message: "it is not byte for byte the form minisign writes for the signature it holds"
                .into(),
        });
    }
    let key_id = key_id_of(sig.keynum());
    let Some(key) = keys.iter().find(|k| k.key_id == key_id) else {
        return Err(SignError::UnknownKey {
            path: sig_path.to_path_buf(),
            key_id,
        });
    };
    Ok((sig, key))
}

/// Checks that the (unsigned) untrusted comment of `sig` is `expected`, the one dossier wrote.
fn untrusted_is(path: &Path, sig: &SignatureBox, expected: &str) -> Result<(), SignError> {
    let found = sig.untrusted_comment().unwrap_or_default();
    if found == expected {
        return Ok(());
    }
    Err(SignError::Changed {
        path: path.to_path_buf(),
        message: format!(
            "its untrusted comment (which the signature does not cover) is {found:?}, dossier wrote {expected:?}"
        ),
    })
}

/// `BUNDLE` + [`SIGNATURE_SUFFIX`].
pub fn signature_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_owned();
    s.push(SIGNATURE_SUFFIX);
    PathBuf::from(s)
}

/// A trusted public key.
pub struct TrustedKey {
    pk: PublicKey,
    key_id: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Who holds it: the untrusted comment above the key in its file (minisign's
    /// `minisign public key: ID` unless someone wrote a name there).
    pub name: String,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TrustedKey({} {:?} from {})",
            self.key_id,
            self.name,
            self.path.display()
        )
    }
}

/// Largest trusted-keys file read (a key takes about 100 bytes).
const MAX_TRUSTED_FILE: u64 = 1 << 20;

impl TrustedKey {
    /// Reads a minisign public key file.
    pub fn load(path: &Path) -> Result<TrustedKey, SignError> {
        let f = fsio::open_input(path).map_err(|e| io_err(path, e))?;
        let text = read_small(path, f)?;
        let format = |e: minisign::PError| SignError::Format {
            path: path.to_path_buf(),
            what: "public key",
            message: e.to_string(),
        };
        let pk = PublicKeyBox::from_string(&text)
            .and_then(|b| b.into_public_key())
            .map_err(format)?;
        let key_id = key_id_of(pk.keynum());
        let name = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("untrusted comment:"))
            .map_or_else(|| key_id.clone(), |c| c.trim().to_string());
        Ok(TrustedKey {
            pk,
            key_id,
            path: path.to_path_buf(),
            name,
        })
    }

    /// Reads a trusted-keys file: minisign public keys as in their `.pub` files, one after
    /// the other (`cat alice.pub bob.pub > trusted-keys`), each an `untrusted comment: WHO`
    /// line naming who holds the key, then the key's base64 line; blank lines and lines
    /// starting with `#` are ignored. Refused unless owned by the user running dossier or
    /// root and writable by neither group nor others: whoever can edit it chooses whom
    /// `verify` trusts.
    pub fn load_list(path: &Path) -> Result<Vec<TrustedKey>, SignError> {
        let refused = |message: String| SignError::TrustFile {
            path: path.to_path_buf(),
            message,
        };
        let f = fsio::open_input(path).map_err(|e| io_err(path, e))?;
        let meta = f.metadata().map_err(|e| io_err(path, e))?;
        if let Some(why) = others_may_change(&meta, false) {
            return Err(refused(why));
        }
        // The folder that really holds it: whoever may write there may replace the file.
        let real = std::fs::canonicalize(path).map_err(|e| io_err(path, e))?;
        let folder = real.parent().unwrap_or(Path::new("/"));
        let folder_meta = std::fs::metadata(folder).map_err(|e| io_err(folder, e))?;
        if let Some(why) = others_may_change(&folder_meta, true) {
            return Err(refused(format!("its folder {}: {why}", folder.display())));
        }
        let mut text = String::new();
        f.take(MAX_TRUSTED_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| io_err(path, e))?;
        if text.len() as u64 > MAX_TRUSTED_FILE {
            return Err(refused(format!("larger than {MAX_TRUSTED_FILE} bytes")));
        }
        parse_trusted(path, &text).map_err(refused)
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// Why a trusted-keys file (or, `folder`, the folder holding it) could be changed by someone
/// other than the running user or root: another owner, or group or others may write it (a
/// folder with the sticky bit, like `/tmp`, may be: others cannot replace our file there).
fn others_may_change(meta: &std::fs::Metadata, folder: bool) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!(
            "owned by uid {}, not by the user running dossier (uid {me}) or root",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && !(folder && mode & 0o1000 != 0) {
        return Some(format!(
            "group or others may write it (mode {mode:04o}); chmod go-w it"
        ));
    }
    None
}

/// The keys of a trusted-keys file (see [`TrustedKey::load_list`]), or what is wrong.
fn parse_trusted(path: &Path, text: &str) -> Result<Vec<TrustedKey>, String> {
    let mut keys: Vec<TrustedKey> = Vec::new();
    let mut comment: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(c) = line.strip_prefix("untrusted comment:") {
            if comment.is_some() {
                return Err(format!("line {n}: two comments in a row, no key between"));
            }
            comment = Some(c.trim().to_string());
            continue;
        }
        let Some(name) = comment.take() else {
            return Err(format!(
                "line {n}: a key without the `untrusted comment: WHO` line above it"
            ));
        };
        let pk = PublicKey::from_base64(line)
            .map_err(|e| format!("line {n}: not a minisign public key: {e}"))?;
        let key_id = key_id_of(pk.keynum());
        if let Some(k) = keys.iter().find(|k| k.key_id == key_id) {
            return Err(format!(
                "line {n}: key {key_id} is listed twice (as `{}` too)",
                k.name
            ));
        }
        keys.push(TrustedKey {
            pk,
            key_id,
            path: path.to_path_buf(),
            name,
        });
    }
    if comment.is_some() {
        return Err("the last comment has no key after it".into());
    }
    if keys.is_empty() {
        return Err("no keys in it".into());
    }
    Ok(keys)
}

/// A good signature.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The signer's key id.
    pub key_id: String,
    /// Who holds that key ([`TrustedKey::name`]).
    pub signer: String,
    /// The bundle's SHA-256 as the signer stated it in the trusted comment (signed).
    pub sha256: String,
    /// The signed trusted comment.
    pub trusted_comment: String,
}

/// Checks `BUNDLE.minisig` over the whole bundle file against `keys`.
pub fn verify_bundle(bundle: &Path, keys: &[TrustedKey]) -> Result<Signed, SignError> {
    let sig_path = signature_path(bundle);
    let (sig, key) = read_signature(&sig_path, keys)?;
    let key_id = key.key_id.clone();
    let bad = |message: String| SignError::Bad {
        path: sig_path.clone(),
        key_id: key_id.clone(),
        message,
    };
    let trusted_comment = sig.trusted_comment().map_err(|e| bad(e.to_string()))?;
    let Some((signed_name, signed_sha256)) = trusted_comment
        .strip_prefix("dossier bundle file:")
        .and_then(|r| r.rsplit_once(" sha256:"))
    else {
        return Err(bad(format!(
            "not a dossier bundle signature: {trusted_comment:?}"
        )));
    };
    untrusted_is(&sig_path, &sig, &bundle_comment(signed_name, &key_id))?;
    let data = fsio::open_input(bundle).map_err(|e| io_err(bundle, e))?;
    minisign::verify(
        &key.pk,
        &sig,
        std::io::BufReader::with_capacity(1 << 20, data),
        true,
        false,
        false,
    )
    .map_err(|e| bad(e.to_string()))?;
    let sha256 = signed_sha256.to_string();
    Ok(Signed {
        key_id,
        signer: key.name.clone(),
        sha256,
        trusted_comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_sign_verify_and_refusals() {
        let d = tempfile::tempdir().unwrap();
        let k = keygen(d.path(), "pw").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&k.secret), 0o600);
        assert_eq!(mode(&k.public), 0o644);
        // Never overwritten.
        assert!(keygen(d.path(), "pw").is_err());
        // Wrong passphrase.
        assert!(matches!(
            SigningKey::load(&k.secret, "nope"),
            Err(SignError::Unlock { .. })
        ));
        let key = SigningKey::load(&k.secret, "pw").unwrap();
        assert_eq!(key.key_id(), k.key_id);
        let bundle = d.path().join("b.zip");
        std::fs::write(&bundle, b"bundle bytes").unwrap();
        let sig = key.sign_bundle(&bundle, "00").unwrap();
        assert!(key.sign_bundle(&bundle, "00").is_err(), "never overwritten");
        let trusted = [TrustedKey::load(&k.public).unwrap()];
        let ok = verify_bundle(&bundle, &trusted).unwrap();
        assert_eq!(ok.key_id, k.key_id);
        assert!(ok.trusted_comment.contains("file:b.zip sha256:00"));
        std::fs::write(&bundle, b"bundle bytez").unwrap();
        assert!(matches!(
            verify_bundle(&bundle, &trusted),
            Err(SignError::Bad { .. })
        ));
        std::fs::remove_file(&sig).unwrap();
        assert!(matches!(
            verify_bundle(&bundle, &trusted),
            Err(SignError::Missing { .. })
        ));
    }

    #[test]
    fn the_ledger_head_catches_truncation_and_edits_but_not_later_appends() {
        let d = tempfile::tempdir().unwrap();
        let k = keygen(d.path(), "pw").unwrap();
        let key = SigningKey::load(&k.secret, "pw").unwrap();
        let trusted = [TrustedKey::load(&k.public).unwrap()];
        let ev = |action| crate::ledger::Event {
            action,
            bundle: "b.zip",
            sha256: None,
            detail: None,
        };
        for a in ["created", "signed"] {
            crate::ledger::append(d.path(), &ev(a)).unwrap();
        }
        key.sign_ledger_head(d.path()).unwrap();
        let h = verify_ledger_head(d.path(), &trusted, Some("b.zip")).unwrap();
        assert_eq!((h.signed_lines, h.unsigned_after), (2, 0));
        assert!(verify_ledger_head(d.path(), &trusted, Some("other.zip")).is_err());
        crate::ledger::append(d.path(), &ev("verified")).unwrap();
        let h = verify_ledger_head(d.path(), &trusted, Some("b.zip")).unwrap();
        assert_eq!((h.signed_lines, h.unsigned_after), (2, 1));
        let path = d.path().join(crate::ledger::LEDGER_NAME);
        let full = std::fs::read(&path).unwrap();
        let first = full.iter().position(|&b| b == b'\n').unwrap() + 1;
        std::fs::write(&path, &full[..first]).unwrap();
        let e = verify_ledger_head(d.path(), &trusted, None).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let mut edited = full.clone();
        edited[first + 20] ^= 1;
        std::fs::write(&path, &edited).unwrap();
        let e = verify_ledger_head(d.path(), &trusted, None).unwrap_err();
        assert!(e.to_string().contains("edited"), "{e}");
        std::fs::write(&path, &full).unwrap();
        std::fs::remove_file(ledger_head_path(d.path())).unwrap();
        let e = verify_ledger_head(d.path(), &trusted, None).unwrap_err();
        assert!(matches!(e, SignError::CustodyMissing { .. }), "{e}");
        assert!(
            e.to_string().contains("custody.jsonl.minisig: missing"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
        let e = verify_ledger_head(d.path(), &trusted, None).unwrap_err();
        assert!(
            e.to_string().contains("custody.jsonl: missing, ")
                && e.to_string().contains("custody.jsonl.minisig: missing"),
            "{e}"
        );
    }

    #[test]
    fn a_signature_file_must_be_exactly_what_was_written() {
        let d = tempfile::tempdir().unwrap();
        let k = keygen(d.path(), "pw").unwrap();
        let key = SigningKey::load(&k.secret, "pw").unwrap();
        let trusted = [TrustedKey::load(&k.public).unwrap()];
        let bundle = d.path().join("b.zip");
        std::fs::write(&bundle, b"bundle bytes").unwrap();
        let sig = key.sign_bundle(&bundle, "00").unwrap();
        let good = std::fs::read_to_string(&sig).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        // Edits minisign's own parser reads past: a trailing line, trailing blanks, an
        // untrusted comment (not signed); and the unused bits of the last base64 digit.
        let last_digit = {
            let l = lines[3];
            let (head, tail) = l.split_at(l.len() - 3);
            let c = tail.as_bytes()[0];
            let other = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                .iter()
                .position(|&x| x == c)
                .unwrap();
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            format!("{head}{}{}", alphabet[other ^ 1] as char, &tail[1..])
        };
        let edits = [
            format!("{good}extra\n"),
            good.replacen('\n', " \n", 2),
            format!("{}\n{}\n{}\n{last_digit}\n", lines[0], lines[1], lines[2]),
            good.replacen("dossier signature of", "dossier signature for", 1),
        ];
        for edited in &edits {
            assert_ne!(edited, &good);
            std::fs::write(&sig, edited).unwrap();
            let e = verify_bundle(&bundle, &trusted).unwrap_err();
            assert!(
                matches!(e, SignError::Changed { .. } | SignError::Format { .. }),
                "{edited}: {e}"
            );
        }
        std::fs::write(&sig, &good).unwrap();
        let ok = verify_bundle(&bundle, &trusted).unwrap();
        assert_eq!(ok.signer, format!("minisign public key: {}", k.key_id));
    }

    #[test]
    fn trusted_keys_file_names_who_holds_each_key_and_is_refused_when_others_may_write_it() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let ka = keygen(&a, "pw").unwrap();
        let kb = keygen(&b, "pw").unwrap();
        let pub_of = |k: &KeyFiles, who: &str| {
            let text = std::fs::read_to_string(&k.public).unwrap();
            let key_line = text.lines().nth(1).unwrap().to_string();
            format!("untrusted comment: {who}\n{key_line}\n")
        };
        let list = d.path().join("trusted-keys");
        std::fs::write(
            &list,
            format!(
                "# examiners of case 42\n\n{}\n{}",
                pub_of(&ka, "Alice (lab laptop)"),
                pub_of(&kb, "Bob")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
        let keys = TrustedKey::load_list(&list).unwrap();
        let names: Vec<(&str, &str)> = keys.iter().map(|k| (k.key_id(), k.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (ka.key_id.as_str(), "Alice (lab laptop)"),
                (kb.key_id.as_str(), "Bob")
            ]
        );
        let key = SigningKey::load(&kb.secret, "pw").unwrap();
        let bundle = d.path().join("b.zip");
        std::fs::write(&bundle, b"bundle bytes").unwrap();
        key.sign_bundle(&bundle, "00").unwrap();
        assert_eq!(verify_bundle(&bundle, &keys).unwrap().signer, "Bob");

        for m in [0o664, 0o646, 0o666] {
            std::fs::set_permissions(&list, std::fs::Permissions::from_mode(m)).unwrap();
            let e = TrustedKey::load_list(&list).unwrap_err();
            assert!(
                e.to_string().contains("group or others may write"),
                "{m:o}: {e}"
            );
        }
        std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Its folder: others may not write there (but a sticky folder, like /tmp, is fine).
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = TrustedKey::load_list(&list).unwrap_err();
        assert!(
            e.to_string().contains("its folder") && e.to_string().contains("mode 0777"),
            "{e}"
        );
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        TrustedKey::load_list(&list).unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&list, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let e = TrustedKey::load_list(&list).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
            nix::unistd::chown(&list, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
        }
        for (bad, why) in [
            (
                pub_of(&ka, "A").lines().nth(1).unwrap().to_string(),
                "without the `untrusted comment",
            ),
            (
                format!("{}{}", pub_of(&ka, "A"), pub_of(&ka, "again")),
                "listed twice",
            ),
            ("untrusted comment: nobody\n".to_string(), "no key after it"),
            ("# nothing\n".to_string(), "no keys"),
            (
                "untrusted comment: x\nnot-a-key\n".to_string(),
                "line 2: not a minisign public key",
            ),
        ] {
            std::fs::write(&list, bad).unwrap();
            let e = TrustedKey::load_list(&list).unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn a_group_or_world_readable_secret_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let k = keygen(d.path(), "pw").unwrap();
        for m in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&k.secret, std::fs::Permissions::from_mode(m)).unwrap();
            let e = SigningKey::load(&k.secret, "pw").unwrap_err();
            assert!(matches!(e, SignError::Exposed { .. }), "{m:o}: {e}");
            assert!(e.to_string().contains("readable by group or others"));
        }
    }
}
