//! Encryption of bundles to recipients, in the age format (<https://age-encryption.org/v1>),
//! so that the stock `age -d -i KEY` tool decrypts them.
//!
//! [`Recipients`] are age X25519 public keys (`age1...`) and SSH public keys (`ssh-ed25519`,
//! `ssh-rsa`), given one by one or as a recipients file (one a line, `#` comments).
//! [`Identities`] are age identity files (`AGE-SECRET-KEY-1...` lines, as `age-keygen`
//! writes them) or unencrypted OpenSSH private keys; like signing keys they are refused when
//! group or others may read them.
//!
//! Both directions stream: [`encrypt`] wraps the writer the zip goes to (the plaintext exists
//! only in memory, one 64 KiB chunk at a time), and [`decrypt`] gives a reader that seeks over
//! the encrypted file, so the zip reader reads it directly. Encrypted input is untrusted: its
//! header is bounded ([`MAX_HEADER`], [`MAX_STANZAS`]) before the age parser sees it, and the
//! length of the plaintext is authenticated (the last chunk decrypted as the last) before any
//! member is read, so a truncated file fails at once with a clear message.

use crate::fsio::open_input;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The first line of every age file.
pub const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The suffix of an encrypted bundle's file name (`HOST-TIME.zip.age`).
pub const SUFFIX: &str = ".age";
/// Largest age header read (recipient stanzas and MAC): far above what a few dozen
/// recipients need, and bounds what a hostile header makes the parser buffer.
pub const MAX_HEADER: usize = 1 << 20;
/// Most recipient stanzas in a header: each costs a key agreement (an RSA decryption for
/// `ssh-rsa` identities) when trying an identity.
pub const MAX_STANZAS: usize = 256;
/// Largest identity or recipients file read.
const MAX_KEY_FILE: u64 = 1 << 20;

/// Errors parsing recipients and identities, encrypting and decrypting.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// A `--encrypt-to` value that is neither a recipient nor a readable recipients file.
    #[error(
        "--encrypt-to {given}: not an age recipient (age1...), an SSH public key (ssh-ed25519, ssh-rsa) or a readable recipients file: {why}"
    )]
    Recipient { given: String, why: String },
    /// A line of a recipients file that is not a recipient.
    #[error("recipients file {}: line {line}: {why}", path.display())]
    RecipientsFile {
        path: PathBuf,
        line: usize,
        why: String,
    },
    /// An identity file that cannot be used.
    #[error("identity {}: {why}", path.display())]
    Identity { path: PathBuf, why: String },
    /// Encryption failed (writing the header, or the recipients are incompatible).
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// The encrypted file is not a well-formed age file, or none of the identities opens it.
    #[error("{0}")]
    Decrypt(String),
}

/// One recipient of an encrypted bundle.
#[derive(Clone)]
enum Recipient {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    fn parse(s: &str) -> Option<Result<Recipient, String>> {
        if s.starts_with("age1") {
            Some(
                age::x25519::Recipient::from_str(s)
                    .map(Recipient::X25519)
                    .map_err(|e| e.to_string()),
            )
        } else if s.starts_with("ssh-") {
            Some(
                age::ssh::Recipient::from_str(s)
                    .map(Recipient::Ssh)
                    .map_err(|e| format!("{e:?}")),
            )
        } else {
            None
        }
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            Recipient::X25519(r) => r,
            Recipient::Ssh(r) => r,
        }
    }
}

/// The recipients a bundle is encrypted to (`--encrypt-to`, repeatable).
#[derive(Clone)]
pub struct Recipients {
    list: Vec<Recipient>,
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipients({})", self.list.len())
    }
}

impl Recipients {
    /// Parses `--encrypt-to` values: each an age recipient (`age1...`), an SSH public key
    /// line (`ssh-ed25519 AAAA... comment`, `ssh-rsa ...`), or the path of a recipients file
    /// (one of those a line; blank lines and `#` comments ignored).
    pub fn parse(given: &[String]) -> Result<Recipients, CryptError> {
        let mut list = Vec::new();
        for g in given {
            let t = g.trim();
            match Recipient::parse(t) {
                Some(Ok(r)) => list.push(r),
                Some(Err(why)) => {
                    return Err(CryptError::Recipient {
                        given: short(t),
                        why,
                    });
                }
                None => list.extend(recipients_file(Path::new(g)).map_err(|e| match e {
                    Err(why) => CryptError::Recipient {
                        given: short(t),
                        why,
                    },
                    Ok(e) => e,
                })?),
            }
        }
        if list.is_empty() {
            return Err(CryptError::Recipient {
                given: given.join(" "),
                why: "no recipient".into(),
            });
        }
        Ok(Recipients { list })
    }

    /// How many recipients there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A value shortened for an error message (a pasted key can be long).
fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The recipients of a recipients file. `Err(Err(why))`: the file cannot be read;
/// `Err(Ok(e))`: a line is not a recipient.
fn recipients_file(path: &Path) -> Result<Vec<Recipient>, Result<CryptError, String>> {
    let text = read_small(path).map_err(Err)?;
    let mut list = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| {
            Ok(CryptError::RecipientsFile {
                path: path.to_path_buf(),
                line: i + 1,
                why,
            })
        };
        match Recipient::parse(line) {
            Some(Ok(r)) => list.push(r),
            Some(Err(why)) => return Err(bad(why)),
            None => return Err(bad("not an age recipient or SSH public key".into())),
        }
    }
    if list.is_empty() {
        return Err(Err("the file lists no recipient".into()));
    }
    Ok(list)
}

/// A small regular file as text (at most [`MAX_KEY_FILE`] bytes).
fn read_small(path: &Path) -> Result<String, String> {
    let f = open_input(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(format!("larger than {MAX_KEY_FILE} bytes"));
    }
    Ok(text)
}

/// The identities that may decrypt bundles (`--identity`, repeatable).
#[derive(Default)]
pub struct Identities {
    list: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({})", self.list.len())
    }
}

impl Identities {
    /// No identity: encrypted bundles are checked as files only.
    pub fn none() -> Identities {
        Identities::default()
    }

    /// Whether there is no identity.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Loads identity files: age identity files (`AGE-SECRET-KEY-1...` lines, `#`
    /// comments) or unencrypted OpenSSH private keys (ed25519, RSA). A file group or others
    /// may read is refused, as is a passphrase-protected SSH key.
    pub fn load(paths: &[PathBuf]) -> Result<Identities, CryptError> {
        let mut list: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for path in paths {
            let bad = |why: String| CryptError::Identity {
                path: path.clone(),
                why,
            };
            let f = open_input(path).map_err(|e| bad(e.to_string()))?;
            let mode = f.metadata().map_err(|e| bad(e.to_string()))?.mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "readable by group or others (mode {mode:04o}); chmod 600 it first"
                )));
            }
            let text = read_small(path).map_err(bad)?;
            if text.trim_start().starts_with("-----BEGIN") {
                let id = age::ssh::Identity::from_buffer(text.as_bytes(), None)
                    .map_err(|e| bad(format!("not a usable SSH private key: {e}")))?;
                match id {
                    age::ssh::Identity::Unencrypted(_) => list.push(Box::new(id)),
                    age::ssh::Identity::Encrypted(_) => {
                        return Err(bad(
                            "passphrase-protected SSH keys are not supported; use an age identity (age-keygen) or an unencrypted copy kept off the evidence store".into(),
                        ));
                    }
                    age::ssh::Identity::Unsupported(k) => {
                        return Err(bad(format!("unsupported SSH key type: {k:?}")));
                    }
                }
            } else {
                let ids = age::IdentityFile::from_buffer(text.as_bytes())
                    .map_err(|e| bad(e.to_string()))?
                    .into_identities()
                    .map_err(|e| bad(e.to_string()))?;
                if ids.is_empty() {
                    return Err(bad("no identity in the file".into()));
                }
                list.extend(ids);
            }
        }
        Ok(Identities { list })
    }
}

/// Whether `head` (the first bytes of a file) starts an age file.
pub fn is_age(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Starts an age file to `recipients` on `out` (its header written): what is written to the
/// returned writer is encrypted in 64 KiB chunks; [`age::stream::StreamWriter::finish`]
/// writes the last chunk and gives `out` back.
pub fn encrypt<W: Write>(
    out: W,
    recipients: &Recipients,
) -> Result<age::stream::StreamWriter<W>, CryptError> {
    let e = age::Encryptor::with_recipients(recipients.list.iter().map(Recipient::as_dyn))
        .map_err(|e| CryptError::Encrypt(e.to_string()))?;
    e.wrap_output(out)
        .map_err(|e| CryptError::Encrypt(e.to_string()))
}

/// Opens the age file `input` (read from its current position) with one of `identities`,
/// after bounding its header, and authenticates its length. Returns the decrypting reader
/// (seekable: offsets are of the plaintext) and the length of the plaintext.
pub fn decrypt<R: Read + Seek>(
    mut input: R,
    identities: &Identities,
) -> Result<(age::stream::StreamReader<R>, u64), CryptError> {
    let start = input
        .stream_position()
        .map_err(|e| CryptError::Decrypt(format!("cannot read: {e}")))?;
    check_header(&mut input)?;
    input
        .seek(SeekFrom::Start(start))
        .map_err(|e| CryptError::Decrypt(format!("cannot read: {e}")))?;
    let d = age::Decryptor::new(input).map_err(|e| {
        CryptError::Decrypt(format!(
            "not a readable age file (truncated or corrupt header): {e}"
        ))
    })?;
    let mut r = d
        .decrypt(identities.list.iter().map(|i| &**i as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => CryptError::Decrypt(
                "none of the --identity keys can decrypt it (it is encrypted to other recipients)"
                    .into(),
            ),
            e => CryptError::Decrypt(format!("cannot decrypt: {e}")),
        })?;
    // Seeking to the end decrypts the last chunk as the last: a cut or altered tail fails here.
    let len = r.seek(SeekFrom::End(0)).map_err(|e| {
        CryptError::Decrypt(format!(
            "the encrypted content is truncated or corrupt: {e}"
        ))
    })?;
    r.seek(SeekFrom::Start(0))
        .map_err(|e| CryptError::Decrypt(format!("the encrypted content is corrupt: {e}")))?;
    Ok((r, len))
}

/// Reads the header of an age file (at most [`MAX_HEADER`] bytes) and refuses one that does
/// not end there or lists more than [`MAX_STANZAS`] recipient stanzas.
fn check_header(input: &mut impl Read) -> Result<(), CryptError> {
    let mut r = std::io::BufReader::new(input.take(MAX_HEADER as u64));
    let mut line = Vec::new();
    let mut stanzas = 0usize;
    let mut first = true;
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| CryptError::Decrypt(format!("cannot read: {e}")))?;
        if n == 0 {
            return Err(CryptError::Decrypt(format!(
                "not a readable age file: no end of header in the first {MAX_HEADER} bytes (truncated or corrupt)"
            )));
        }
        if first && line != MAGIC {
            return Err(CryptError::Decrypt(
                "not an age file (no age-encryption.org/v1 header)".into(),
            ));
        }
        first = false;
        if line.starts_with(b"-> ") {
            stanzas += 1;
            if stanzas > MAX_STANZAS {
                return Err(CryptError::Decrypt(format!(
                    "more than {MAX_STANZAS} recipient stanzas in the header (limit)"
                )));
            }
        }
        if line.starts_with(b"--- ") {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
