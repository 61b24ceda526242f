//! The parts of a token's CMS SignedData that dossier reads itself before OpenSSL checks the
//! signature: the encapsulated TSTInfo, the certificates the token carries, and the one
//! SignerInfo's ESS signing-certificate attribute (RFC 5035 `signingCertificateV2`, or the
//! SHA-1 `signingCertificate` of RFC 2634), which names the signing certificate by its hash
//! under the signature. That hash picks the certificate the signature must verify with, so
//! the unsigned signer identifier (issuer and serial, which OpenSSL matches leniently) decides
//! nothing.

use super::der::{DerError, Reader, tag};
use openssl::hash::{MessageDigest, hash};
use openssl::x509::{X509, X509NameRef};

/// id-signedData (1.2.840.113549.1.7.2).
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4).
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
/// id-aa-signingCertificateV2 (1.2.840.113549.1.9.16.2.47).
const OID_SIGNING_CERT_V2: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f,
];
/// id-aa-signingCertificate (1.2.840.113549.1.9.16.2.12).
const OID_SIGNING_CERT: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0c,
];
/// The digest of id-sha256, id-sha384 or id-sha512 (2.16.840.1.101.3.4.2.1, .2, .3).
fn sha2_of(oid: &[u8]) -> Option<MessageDigest> {
    match oid.strip_prefix(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02][..])? {
        [1] => Some(MessageDigest::sha256()),
        [2] => Some(MessageDigest::sha384()),
        [3] => Some(MessageDigest::sha512()),
        _ => None,
    }
}

fn bad<T>(m: &str) -> Result<T, DerError> {
    Err(DerError(m.to_string()))
}

/// What dossier reads of a token's SignedData.
pub(super) struct SignedParts<'a> {
    /// The encapsulated TSTInfo (DER).
    pub tst_info: &'a [u8],
    /// The certificates the token carries (DER each).
    pub certs: Vec<&'a [u8]>,
    /// The content of the SignerInfo's signed attributes.
    pub signed_attrs: &'a [u8],
}

/// A token (a ContentInfo of type signedData, whose encapsulated content type is
/// id-ct-TSTInfo, with exactly one SignerInfo that has signed attributes), read.
pub(super) fn signed_data(token: &[u8]) -> Result<SignedParts<'_>, DerError> {
    let mut ci = Reader::new(Reader::new(token).expect(tag::SEQUENCE, "ContentInfo")?);
    if ci.expect(tag::OID, "contentType")? != OID_SIGNED_DATA {
        return bad("the token is not CMS SignedData");
    }
    let explicit = ci.expect(tag::CTX0, "content")?;
    let mut sd = Reader::new(Reader::new(explicit).expect(tag::SEQUENCE, "SignedData")?);
    sd.expect(tag::INTEGER, "version")?;
    sd.expect(tag::SET, "digestAlgorithms")?;
    let mut eci = Reader::new(sd.expect(tag::SEQUENCE, "encapContentInfo")?);
    if eci.expect(tag::OID, "eContentType")? != OID_TST_INFO {
        return bad("the signed content is not a TSTInfo");
    }
    let explicit = eci.expect(tag::CTX0, "eContent")?;
    let tst_info = Reader::new(explicit).expect(tag::OCTET_STRING, "eContent")?;
    let mut certs = Vec::new();
    if let Some(set) = sd.optional(tag::CTX0)? {
        let mut r = Reader::new(set.content);
        while !r.is_empty() {
            let c = r.any()?;
            // Certificates; other certificate formats ([0]..[3]) are not used by TSAs.
            if c.tag == tag::SEQUENCE {
                certs.push(c.whole);
            }
        }
    }
    sd.optional(tag::CTX1)?; // crls
    let mut infos = Reader::new(sd.expect(tag::SET, "signerInfos")?);
    let mut si = Reader::new(infos.expect(tag::SEQUENCE, "SignerInfo")?);
    if !infos.is_empty() {
        return bad("more than one signer");
    }
    si.expect(tag::INTEGER, "SignerInfo version")?;
    si.any()?; // sid
    si.expect(tag::SEQUENCE, "digestAlgorithm")?;
    let signed_attrs = si.expect(tag::CTX0, "signedAttrs")?;
    Ok(SignedParts {
        tst_info,
        certs,
        signed_attrs,
    })
}

/// The hash of the signing certificate the ESS attribute gives, and its algorithm.
pub(super) struct CertId<'a> {
    pub digest: MessageDigest,
    pub hash: &'a [u8],
}

/// The first certificate id of the ESS signing-certificate attribute among `signed_attrs`.
pub(super) fn ess_cert_id(signed_attrs: &[u8]) -> Result<CertId<'_>, DerError> {
    let mut attrs = Reader::new(signed_attrs);
    while !attrs.is_empty() {
        let mut attr = Reader::new(attrs.expect(tag::SEQUENCE, "Attribute")?);
        let oid = attr.expect(tag::OID, "attrType")?;
        if oid != OID_SIGNING_CERT_V2 && oid != OID_SIGNING_CERT {
            continue;
        }
        let mut values = Reader::new(attr.expect(tag::SET, "attrValues")?);
        let mut sc = Reader::new(values.expect(tag::SEQUENCE, "SigningCertificate")?);
        let mut ids = Reader::new(sc.expect(tag::SEQUENCE, "certs")?);
        let mut id = Reader::new(ids.expect(tag::SEQUENCE, "ESSCertID")?);
        let digest = if oid == OID_SIGNING_CERT {
            MessageDigest::sha1()
        } else if let Some(alg) = id.optional(tag::SEQUENCE)? {
            let alg_oid = Reader::new(alg.content).expect(tag::OID, "hashAlgorithm")?;
            match sha2_of(alg_oid) {
                Some(md) => md,
                None => return bad("the signing certificate's hash is not SHA-2"),
            }
        } else {
            MessageDigest::sha256() // the DEFAULT of ESSCertIDv2
        };
        let hash = id.expect(tag::OCTET_STRING, "certHash")?;
        return Ok(CertId { digest, hash });
    }
    bad("no ESS signing-certificate attribute: the token does not name its signing certificate")
}

/// The certificate among `candidates` whose hash is `id`.
pub(super) fn find_signer<'c>(
    id: &CertId<'_>,
    candidates: impl IntoIterator<Item = &'c X509>,
) -> Option<&'c X509> {
    candidates.into_iter().find(|c| {
        c.to_der()
            .and_then(|d| hash(id.digest, &d))
            .is_ok_and(|h| *h == *id.hash)
    })
}

/// A name as `O=…, CN=…`, for a terminal (control characters replaced).
pub(super) fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect();
    super::printable(parts.join(", ").as_bytes())
}

/// The DER of the Name in a TSTInfo's `tsa` field (`[0] EXPLICIT GeneralName`) when it is a
/// directoryName; `None` for the other forms.
pub(super) fn tsa_directory_name(explicit: &[u8]) -> Option<&[u8]> {
    let t = Reader::new(explicit).any().ok()?;
    // directoryName [4] EXPLICIT Name
    (t.tag == 0xa4)
        .then(|| Reader::new(t.content).any().ok().map(|n| n.whole))
        .flatten()
}
