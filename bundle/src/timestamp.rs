//! Trusted time: RFC 3161 timestamp tokens over a bundle file.
//!
//! `collect`/`sweep --tsa URL` send a TimeStampReq (the bundle file's SHA-256, a random nonce,
//! `certReq`) built by [`Request::new`]; [`Request::check_response`] accepts the answer only
//! when the TSA granted it, the token's TSTInfo carries this imprint and nonce, and its CMS
//! signature verifies with the certificate the token carries. The whole TimeStampResp is kept
//! as `BUNDLE.zip.tsr` (what `openssl ts -verify -in` reads). [`verify_token`] checks it
//! offline against TSA certificates the examiner trusts (`verify --tsa-cert`): the imprint is
//! the bundle's SHA-256 now, the CMS signature verifies, the signed message-digest attribute
//! matches the TSTInfo, and the signer certificate chains (at genTime, for the timeStamping
//! purpose) to one of them.
//!
//! A token proves that these bytes existed no later than genTime, on the word of that TSA; it
//! does not prove who collected them, nor that what was collected was true.

mod der;
mod signed;

use crate::fsio;
use der::{Reader, tag, tlv};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509Name, X509PurposeId};
use signed::{SignedParts, signed_data};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Suffix of the stored TimeStampResp (`BUNDLE.zip.tsr`).
pub const TOKEN_SUFFIX: &str = ".tsr";
/// Largest token or certificate file read (a token is a few KiB).
const MAX_FILE: u64 = 1 << 20;
/// id-sha256 (2.16.840.1.101.3.4.2.1).
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// Timestamp errors.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("timestamp token {path}: missing")]
    Missing { path: PathBuf },
    #[error("{what}: not an RFC 3161 timestamp: {message}")]
    Malformed { what: String, message: String },
    #[error("the TSA refused: status {status}{text}")]
    Refused { status: u64, text: String },
    #[error("{what}: {message}")]
    Mismatch { what: String, message: String },
    #[error("{what}: the signature does not verify{with}: {message}")]
    Signature {
        what: String,
        with: String,
        message: String,
    },
    #[error("TSA certificate {path}: {message}")]
    Cert { path: PathBuf, message: String },
}

fn malformed(what: &str, message: impl std::fmt::Display) -> TsError {
    TsError::Malformed {
        what: what.to_string(),
        message: message.to_string(),
    }
}

/// `BUNDLE` + [`TOKEN_SUFFIX`].
pub fn token_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_owned();
    s.push(TOKEN_SUFFIX);
    PathBuf::from(s)
}

/// What a good token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// genTime, UTC RFC 3339.
    pub gen_time: String,
    /// The TSA's name as the token gives it (its `tsa` field), or a note that it gives none.
    pub tsa: String,
    /// The token's serial number (hex).
    pub serial: String,
}

/// A TimeStampReq over a SHA-256, with its random nonce.
#[derive(Debug, Clone)]
pub struct Request {
    imprint: [u8; 32],
    nonce: Vec<u8>,
    der: Vec<u8>,
}

impl Request {
    /// A request for `imprint` (the bundle file's SHA-256) with a fresh random nonce and
    /// `certReq` true, so that the token carries the TSA's certificate.
    pub fn new(imprint: [u8; 32]) -> Result<Request, TsError> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| malformed("nonce", e))?;
        // Positive and minimal as a DER INTEGER: top bit clear, second bit set.
        nonce[0] = (nonce[0] & 0x7f) | 0x40;
        let der = tlv(
            tag::SEQUENCE,
            &[
                tlv(tag::INTEGER, &[1]),
                message_imprint(&imprint),
                tlv(tag::INTEGER, &nonce),
                tlv(tag::BOOLEAN, &[0xff]),
            ]
            .concat(),
        );
        Ok(Request {
            imprint,
            nonce: nonce.to_vec(),
            der,
        })
    }

    /// The request's DER (`application/timestamp-query`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Checks a TimeStampResp answering this request: granted, its TSTInfo over this imprint
    /// with this nonce, its signature good with the certificate it carries (no chain: who
    /// trusts that TSA is `verify --tsa-cert`'s question).
    pub fn check_response(&self, resp: &[u8]) -> Result<Stamp, TsError> {
        let what = "the TSA's answer";
        let token = token_of(resp, what)?;
        let signed = signed_data(token).map_err(|e| malformed(what, e))?;
        let info = TstInfo::parse(signed.tst_info).map_err(|e| malformed(what, e))?;
        if info.imprint != self.imprint {
            return Err(TsError::Mismatch {
                what: what.into(),
                message: format!(
                    "its token is over SHA-256 {}, not over the bundle's {}",
                    hex(info.imprint),
                    hex(&self.imprint)
                ),
            });
        }
        if info.nonce != Some(self.nonce.as_slice()) {
            return Err(TsError::Mismatch {
                what: what.into(),
                message: "its nonce is not the request's (a replayed or foreign answer)".into(),
            });
        }
        check_signature(token, &signed, &info, None, what)
    }
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm (SHA-256, NULL parameters), hashedMessage }`.
fn message_imprint(imprint: &[u8; 32]) -> Vec<u8> {
    tlv(
        tag::SEQUENCE,
        &[
            tlv(
                tag::SEQUENCE,
                &[tlv(tag::OID, OID_SHA256), tlv(tag::NULL, &[])].concat(),
            ),
            tlv(tag::OCTET_STRING, imprint),
        ]
        .concat(),
    )
}

/// The timeStampToken (a CMS ContentInfo, whole DER) of a granted TimeStampResp.
fn token_of<'a>(resp: &'a [u8], what: &str) -> Result<&'a [u8], TsError> {
    let bad = |e: der::DerError| malformed(what, e);
    let mut outer = Reader::new(resp);
    let body = outer.expect(tag::SEQUENCE, "TimeStampResp").map_err(bad)?;
    if !outer.is_empty() {
        return Err(malformed(what, "bytes after the TimeStampResp"));
    }
    let mut r = Reader::new(body);
    let status_info = r.expect(tag::SEQUENCE, "PKIStatusInfo").map_err(bad)?;
    let mut s = Reader::new(status_info);
    let status = s.expect(tag::INTEGER, "PKIStatus").map_err(bad)?;
    let status = match status {
        [n] => u64::from(*n),
        _ => u64::MAX,
    };
    // granted (0) or grantedWithMods (1); anything else carries no token.
    if status > 1 {
        let mut text = String::new();
        if let Ok(Some(strings)) = s.optional(tag::SEQUENCE) {
            let mut strings = Reader::new(strings.content);
            while let Ok(t) = strings.any() {
                text.push_str(": ");
                text.push_str(&printable(t.content));
            }
        }
        return Err(TsError::Refused { status, text });
    }
    let token = r
        .any()
        .map_err(|e| malformed(what, format!("no token: {}", e.0)))?;
    if token.tag != tag::SEQUENCE || !r.is_empty() {
        return Err(malformed(what, "the token is not one CMS ContentInfo"));
    }
    Ok(token.whole)
}

/// The fields of a TSTInfo dossier uses.
#[derive(Debug)]
struct TstInfo<'a> {
    imprint: &'a [u8],
    serial: &'a [u8],
    gen_time: chrono::DateTime<chrono::Utc>,
    nonce: Option<&'a [u8]>,
    tsa: Option<der::Tlv<'a>>,
}

impl<'a> TstInfo<'a> {
    fn parse(data: &'a [u8]) -> Result<TstInfo<'a>, der::DerError> {
        let bad = |m: &str| der::DerError(m.to_string());
        let mut outer = Reader::new(data);
        let mut r = Reader::new(outer.expect(tag::SEQUENCE, "TSTInfo")?);
        if !outer.is_empty() {
            return Err(bad("bytes after the TSTInfo"));
        }
        if r.expect(tag::INTEGER, "version")? != [1] {
            return Err(bad("TSTInfo version is not 1"));
        }
        r.expect(tag::OID, "policy")?;
        let mut mi = Reader::new(r.expect(tag::SEQUENCE, "messageImprint")?);
        let mut alg = Reader::new(mi.expect(tag::SEQUENCE, "hashAlgorithm")?);
        if alg.expect(tag::OID, "hashAlgorithm")? != OID_SHA256 {
            return Err(bad("the imprint is not a SHA-256"));
        }
        let imprint = mi.expect(tag::OCTET_STRING, "hashedMessage")?;
        let serial = r.expect(tag::INTEGER, "serialNumber")?;
        let gen_time = generalized_time(r.expect(tag::GENERALIZED_TIME, "genTime")?)
            .ok_or_else(|| bad("genTime is not a UTC GeneralizedTime"))?;
        r.optional(tag::SEQUENCE)?; // accuracy
        r.optional(tag::BOOLEAN)?; // ordering
        let nonce = r.optional(tag::INTEGER)?.map(|t| t.content);
        let tsa = r.optional(tag::CTX0)?;
        r.optional(tag::CTX1)?; // extensions
        if !r.is_empty() {
            return Err(bad("unexpected fields at the end of the TSTInfo"));
        }
        Ok(TstInfo {
            imprint,
            serial,
            gen_time,
            nonce,
            tsa,
        })
    }

    fn stamp(&self, tsa: String) -> Stamp {
        Stamp {
            gen_time: self
                .gen_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            tsa,
            serial: hex(self.serial),
        }
    }
}

/// `YYYYMMDDHHMMSS[.f+]Z`.
fn generalized_time(raw: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = std::str::from_utf8(raw).ok()?.strip_suffix('Z')?;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if whole.len() != 14 || !digits(whole) || !(frac.is_empty() || digits(frac)) {
        return None;
    }
    let n = |a: usize, b: usize| whole[a..b].parse::<u32>().ok();
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?
    };
    let date = chrono::NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(4, 6)?, n(6, 8)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(n(8, 10)?, n(10, 12)?, n(12, 14)?, nanos)?;
    Some(chrono::NaiveDateTime::new(date, time).and_utc())
}

/// Text from a token for a terminal: control characters replaced, at most 200 characters.
fn printable(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect()
}

fn hex(b: &[u8]) -> String {
    dossier_plugin_api::encoding::hex(b)
}

/// An OpenSSL error stack in one line: the reasons (and verify errors) it gives.
fn ossl(e: &openssl::error::ErrorStack) -> String {
    let parts: Vec<String> = e
        .errors()
        .iter()
        .map(|x| {
            let reason = x.reason().unwrap_or("error");
            match x.data() {
                Some(d) if !d.is_empty() => format!("{reason} ({d})"),
                _ => reason.to_string(),
            }
        })
        .collect();
    if parts.is_empty() {
        "rejected".into()
    } else {
        parts.join(", ")
    }
}

/// Stores a checked TimeStampResp as `BUNDLE.zip.tsr` (created exclusively through fsio:
/// never through a link, never over an existing file) and syncs it. Returns its path.
pub fn write_token(bundle: &Path, resp: &[u8]) -> Result<PathBuf, TsError> {
    let path = token_path(bundle);
    let io = |e: std::io::Error| TsError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut f = fsio::create_new_private(&path).map_err(io)?;
    if let Err(e) = f.write_all(resp).and_then(|()| f.sync_all()) {
        let _ = std::fs::remove_file(&path);
        return Err(io(e));
    }
    fsio::sync_dir(crate::ledger::bundle_dir(bundle));
    Ok(path)
}

/// Reads a small file named by the user (token, certificate).
fn read_small(path: &Path) -> Result<Vec<u8>, TsError> {
    let io = |e: std::io::Error| TsError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let f = fsio::open_input(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TsError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            io(e)
        }
    })?;
    let mut data = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut data).map_err(io)?;
    if data.len() as u64 > MAX_FILE {
        return Err(io(std::io::Error::other("larger than 1 MiB")));
    }
    Ok(data)
}

/// TSA certificates the examiner trusts (`verify --tsa-cert`): the TSA's own certificate or
/// the CA that issued it, PEM (several in one file are fine).
pub struct TsaCerts {
    certs: Vec<X509>,
    /// The files they were read from.
    pub paths: Vec<PathBuf>,
}

impl std::fmt::Debug for TsaCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TsaCerts({} from {:?})", self.certs.len(), self.paths)
    }
}

impl TsaCerts {
    /// Reads PEM certificate files; a file without a certificate is an error.
    pub fn load(paths: &[PathBuf]) -> Result<TsaCerts, TsError> {
        let mut certs = Vec::new();
        for path in paths {
            let pem = read_small(path)?;
            let found = X509::stack_from_pem(&pem).map_err(|e| TsError::Cert {
                path: path.clone(),
                message: ossl(&e),
            })?;
            if found.is_empty() {
                return Err(TsError::Cert {
                    path: path.clone(),
                    message: "no PEM certificate in it".into(),
                });
            }
            certs.extend(found);
        }
        Ok(TsaCerts {
            certs,
            paths: paths.to_vec(),
        })
    }

    /// Whether there is none (then tokens are not checked).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// Checks `BUNDLE.zip.tsr` offline: a granted token whose TSTInfo imprint is `sha256` (the
/// bundle file's SHA-256 as it is now, hex), whose CMS signature and signed message-digest
/// verify, and whose signer certificate chains to one of `trusted` (or is one of them), valid
/// at genTime and for time stamping.
pub fn verify_token(bundle: &Path, sha256: &str, trusted: &TsaCerts) -> Result<Stamp, TsError> {
    let path = token_path(bundle);
    let resp = read_small(&path)?;
    let what = format!("timestamp token {}", path.display());
    let token = token_of(&resp, &what)?;
    let signed = signed_data(token).map_err(|e| malformed(&what, e))?;
    let info = TstInfo::parse(signed.tst_info).map_err(|e| malformed(&what, e))?;
    if hex(info.imprint) != sha256 {
        return Err(TsError::Mismatch {
            what,
            message: format!(
                "it is over SHA-256 {}, the bundle file hashes to {sha256}: the token is of another bundle, or the bundle changed after it was timestamped",
                hex(info.imprint)
            ),
        });
    }
    check_signature(token, &signed, &info, Some(trusted), &what)
}

/// Checks a token's signature: the signing certificate is the one its ESS attribute names,
/// found among the certificates it carries and `trusted`; the CMS signature and the signed
/// message-digest verify with exactly that certificate; with `trusted`, it chains to one of
/// them at genTime for time stamping (without, the chain is not checked: the answer's check
/// at collection); a directory name in the TSTInfo's `tsa` field is that certificate's
/// subject. The TSA named in the returned stamp is that subject.
fn check_signature(
    token: &[u8],
    signed: &SignedParts<'_>,
    info: &TstInfo<'_>,
    trusted: Option<&TsaCerts>,
    what: &str,
) -> Result<Stamp, TsError> {
    let with = match trusted {
        Some(_) => " with the given TSA certificates",
        None => " with the certificate it carries",
    };
    let sig_err = |message: String| TsError::Signature {
        what: what.to_string(),
        with: with.into(),
        message,
    };
    let carried = signed
        .certs
        .iter()
        .map(|d| X509::from_der(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed(what, format!("a certificate it carries: {}", ossl(&e))))?;
    let id = signed::ess_cert_id(signed.signed_attrs).map_err(|e| malformed(what, e))?;
    let given = trusted.map_or(&[][..], |t| t.certs.as_slice());
    let signer = signed::find_signer(&id, carried.iter().chain(given)).ok_or_else(|| {
        sig_err("its signing certificate is neither in the token nor among the given ones".into())
    })?;
    let mut only = Stack::new().map_err(|e| sig_err(ossl(&e)))?;
    only.push(signer.clone()).map_err(|e| sig_err(ossl(&e)))?;
    let store = match trusted {
        Some(t) => Some(store_at(t, info.gen_time.timestamp()).map_err(|e| sig_err(ossl(&e)))?),
        None => None,
    };
    let flags = match trusted {
        Some(_) => CMSOptions::BINARY | CMSOptions::NOINTERN,
        None => CMSOptions::BINARY | CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY,
    };
    let mut cms = CmsContentInfo::from_der(token).map_err(|e| malformed(what, ossl(&e)))?;
    let mut out = Vec::new();
    cms.verify(Some(&only), store.as_deref(), None, Some(&mut out), flags)
        .map_err(|e| sig_err(ossl(&e)))?;
    if out != signed.tst_info {
        return Err(malformed(what, "the signed content is not its TSTInfo"));
    }
    let subject = signer.subject_name();
    if let Some(name) = info.tsa.and_then(|t| signed::tsa_directory_name(t.content)) {
        let same = X509Name::from_der(name)
            .and_then(|n| n.try_cmp(subject))
            .is_ok_and(|o| o.is_eq());
        if !same {
            return Err(TsError::Mismatch {
                what: what.to_string(),
                message: format!(
                    "its TSTInfo names a TSA that is not the subject of its signing certificate ({})",
                    signed::name_text(subject)
                ),
            });
        }
    }
    Ok(info.stamp(signed::name_text(subject)))
}

/// A store of `trusted` that checks chains as of `at` (Unix seconds), for the timeStamping
/// purpose, accepting a trusted certificate that is not self-signed as an anchor (the TSA's
/// own certificate given with `--tsa-cert`).
fn store_at(
    trusted: &TsaCerts,
    at: i64,
) -> Result<openssl::x509::store::X509Store, openssl::error::ErrorStack> {
    let mut b = X509StoreBuilder::new()?;
    for c in &trusted.certs {
        b.add_cert(c.clone())?;
    }
    let mut param = X509VerifyParam::new()?;
    param.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
    param.set_purpose(X509PurposeId::TIMESTAMP_SIGN)?;
    param.set_time(at as _);
    b.set_param(&param)?;
    Ok(b.build())
}

/// Whether a bundle has a token beside it (reported as "not checked" without `--tsa-cert`).
pub fn has_token(bundle: &Path) -> bool {
    token_path(bundle).symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests;
