//! The recorded token of `tests/fixtures/timestamp` (made by `make.sh` there with a local
//! openssl TSA): it verifies offline against its CA and against the TSA certificate itself,
//! and fails against another CA, another bundle and every kind of damage, without a panic.

use super::*;
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/timestamp")
        .join(name)
}

fn certs(names: &[&str]) -> TsaCerts {
    TsaCerts::load(&names.iter().map(|n| fixture(n)).collect::<Vec<_>>()).unwrap()
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A copy of the fixture bundle and its token (`token` replaced when given) in `dir`.
fn bundle_in(dir: &Path, token: Option<&[u8]>) -> (PathBuf, String) {
    let data = std::fs::read(fixture("data.bin")).unwrap();
    let b = dir.join("data.bin");
    std::fs::write(&b, &data).unwrap();
    let tsr = std::fs::read(fixture("data.bin.tsr")).unwrap();
    std::fs::write(token_path(&b), token.unwrap_or(&tsr)).unwrap();
    (b, hex(&sha(&data)))
}

/// The request the recorded token answers (its nonce is in `data.bin.nonce`).
fn recorded_request() -> Request {
    request_of("data.bin.nonce")
}

/// The request over `data.bin` with the nonce in the fixture `nonce_file`.
fn request_of(nonce_file: &str) -> Request {
    let data = std::fs::read(fixture("data.bin")).unwrap();
    let text = std::fs::read_to_string(fixture(nonce_file)).unwrap();
    let text = text.trim();
    let mut nonce: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    if nonce[0] & 0x80 != 0 {
        nonce.insert(0, 0);
    }
    Request {
        imprint: sha(&data),
        nonce,
        der: Vec::new(),
    }
}

#[test]
fn the_recorded_token_verifies_against_its_ca_or_its_own_certificate() {
    let d = tempfile::tempdir().unwrap();
    let (b, sha256) = bundle_in(d.path(), None);
    for trusted in [
        certs(&["ca.pem"]),
        certs(&["tsa.pem"]),
        certs(&["other-ca.pem", "ca.pem"]),
    ] {
        let s = verify_token(&b, &sha256, &trusted).unwrap();
        assert_eq!(s.tsa, "O=dossier tests, CN=dossier test TSA");
        assert!(
            s.gen_time.ends_with('Z') && s.gen_time.len() == 20,
            "{}",
            s.gen_time
        );
        assert_eq!(s.serial, "02");
    }
    let s = recorded_request()
        .check_response(&std::fs::read(fixture("data.bin.tsr")).unwrap())
        .unwrap();
    assert_eq!(s.tsa, "O=dossier tests, CN=dossier test TSA");
}

#[test]
fn a_token_without_its_certificate_verifies_only_with_that_certificate_given() {
    let d = tempfile::tempdir().unwrap();
    let nocert = std::fs::read(fixture("data.bin.nocert.tsr")).unwrap();
    let (b, sha256) = bundle_in(d.path(), Some(&nocert));
    let s = verify_token(&b, &sha256, &certs(&["tsa.pem"])).unwrap();
    assert_eq!(s.tsa, "O=dossier tests, CN=dossier test TSA");
    for (trusted, why) in [
        (
            certs(&["ca.pem"]),
            "neither in the token nor among the given ones",
        ),
        (
            certs(&["other-ca.pem"]),
            "neither in the token nor among the given ones",
        ),
    ] {
        let e = verify_token(&b, &sha256, &trusted).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
    // At collection, a TSA that ignored certReq gives a token dossier cannot check alone.
    let e = request_of("data.bin.nocert.nonce")
        .check_response(&nocert)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("with the certificate it carries: its signing certificate is neither"),
        "{e}"
    );
}

#[test]
fn another_ca_another_bundle_or_another_request_fails_naming_why() {
    let d = tempfile::tempdir().unwrap();
    let (b, sha256) = bundle_in(d.path(), None);
    let e = verify_token(&b, &sha256, &certs(&["other-ca.pem"])).unwrap_err();
    assert!(matches!(e, TsError::Signature { .. }), "{e}");
    assert!(e.to_string().contains("does not verify"), "{e}");

    let other = hex(&sha(b"another bundle"));
    let e = verify_token(&b, &other, &certs(&["ca.pem"])).unwrap_err();
    assert!(matches!(e, TsError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("another bundle"), "{e}");

    std::fs::remove_file(token_path(&b)).unwrap();
    assert!(matches!(
        verify_token(&b, &sha256, &certs(&["ca.pem"])),
        Err(TsError::Missing { .. })
    ));

    let tsr = std::fs::read(fixture("data.bin.tsr")).unwrap();
    let mut r = recorded_request();
    r.nonce[1] ^= 1;
    let e = r.check_response(&tsr).unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");
    let mut r = recorded_request();
    r.imprint[0] ^= 1;
    let e = r.check_response(&tsr).unwrap_err();
    assert!(e.to_string().contains("not over the bundle's"), "{e}");
}

#[test]
fn a_refusal_is_reported_with_the_tsas_words() {
    // PKIStatusInfo { rejection (2), statusString { "bad alg" } }, no token.
    let refused = tlv(
        tag::SEQUENCE,
        &tlv(
            tag::SEQUENCE,
            &[
                tlv(tag::INTEGER, &[2]),
                tlv(tag::SEQUENCE, &tlv(0x0c, b"bad alg\x1b[2J")),
            ]
            .concat(),
        ),
    );
    let e = recorded_request().check_response(&refused).unwrap_err();
    assert_eq!(e.to_string(), "the TSA refused: status 2: bad alg?[2J");
}

#[test]
fn the_request_is_what_openssl_reads() {
    let r = Request::new([7; 32]).unwrap();
    let mut outer = Reader::new(r.der());
    let mut req = Reader::new(outer.expect(tag::SEQUENCE, "req").unwrap());
    assert!(outer.is_empty());
    assert_eq!(req.expect(tag::INTEGER, "v").unwrap(), [1]);
    assert_eq!(
        req.expect(tag::SEQUENCE, "mi").unwrap(),
        &message_imprint(&[7; 32])[2..]
    );
    let nonce = req.expect(tag::INTEGER, "nonce").unwrap();
    assert_eq!(nonce.len(), 8);
    assert_eq!(nonce[0] & 0xc0, 0x40, "positive and minimal");
    assert_eq!(req.expect(tag::BOOLEAN, "certReq").unwrap(), [0xff]);
    assert!(req.is_empty());
    assert_ne!(
        Request::new([7; 32]).unwrap().nonce,
        r.nonce,
        "a fresh nonce"
    );
}

/// Where `part` lies in `whole` (a sub-slice of it).
fn span(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let at = part.as_ptr() as usize - whole.as_ptr() as usize;
    at..at + part.len()
}

/// The byte ranges of the recorded response that a signature covers: the TSTInfo (the
/// signed content), the signed attributes, the signature value, and the TSA certificate
/// (signed by the CA).
fn signed_ranges(tsr: &[u8]) -> Vec<std::ops::Range<usize>> {
    let token = token_of(tsr, "t").unwrap();
    let tst_info = signed_data(token).unwrap().tst_info;
    let mut ci = Reader::new(Reader::new(token).expect(tag::SEQUENCE, "ci").unwrap());
    ci.any().unwrap();
    let explicit = ci.expect(tag::CTX0, "c").unwrap();
    let mut sd = Reader::new(Reader::new(explicit).expect(tag::SEQUENCE, "sd").unwrap());
    for _ in 0..3 {
        sd.any().unwrap(); // version, digestAlgorithms, encapContentInfo
    }
    let cert = sd.expect(tag::CTX0, "certificates").unwrap();
    let mut infos = Reader::new(sd.expect(tag::SET, "signerInfos").unwrap());
    let mut si = Reader::new(infos.expect(tag::SEQUENCE, "si").unwrap());
    for _ in 0..3 {
        si.any().unwrap(); // version, sid, digestAlgorithm
    }
    let attrs = si.expect(tag::CTX0, "signedAttrs").unwrap();
    si.any().unwrap(); // signatureAlgorithm
    let signature = si.expect(tag::OCTET_STRING, "signature").unwrap();
    [tst_info, attrs, signature, cert]
        .iter()
        .map(|p| span(tsr, p))
        .collect()
}

/// Whether OpenSSL reads the response `bad` as exactly the token of `good`.
fn reencodes_to(bad: &[u8], good: &[u8]) -> bool {
    let token = |r: &[u8]| token_of(r, "t").map(<[u8]>::to_vec);
    match (token(bad), token(good)) {
        (Ok(b), Ok(g)) => CmsContentInfo::from_der(&b)
            .and_then(|c| c.to_der())
            .is_ok_and(|d| d == g),
        _ => false,
    }
}

#[test]
fn every_flipped_bit_truncation_or_garbage_fails_without_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let tsr = std::fs::read(fixture("data.bin.tsr")).unwrap();
    let (b, sha256) = bundle_in(d.path(), None);
    let trusted = certs(&["ca.pem"]);
    let good = verify_token(&b, &sha256, &trusted).unwrap();
    let request = recorded_request();
    let signed = signed_ranges(&tsr);
    let covered: usize = signed.iter().map(|r| r.len()).sum();
    assert!(covered > tsr.len() * 3 / 4, "{signed:?}");
    let (mut tried, mut caught, mut accepted_elsewhere) = (0, 0, 0);
    let mut wrong = Vec::new();
    for at in 0..tsr.len() {
        for bit in 0..8 {
            let mut bad = tsr.clone();
            bad[at] ^= 1 << bit;
            std::fs::write(token_path(&b), &bad).unwrap();
            tried += 1;
            let _ = request.check_response(&bad); // must not panic either
            match verify_token(&b, &sha256, &trusted) {
                Err(_) => caught += 1,
                Ok(s) if s == good && !signed.iter().any(|r| r.contains(&at)) => {
                    // An unsigned envelope field OpenSSL reads leniently (a version, NULL
                    // parameters, the case of the signer's issuer name): what the token
                    // says is unchanged.
                    accepted_elsewhere += 1;
                }
                Ok(s) if s == good && reencodes_to(&bad, &tsr) => {
                    // A tag's constructed bit, which OpenSSL reads leniently and writes back
                    // as it was: the token parsed is the original, bit for bit.
                    accepted_elsewhere += 1;
                }
                Ok(s) => wrong.push((at, bit, s)),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "signed bytes flipped and accepted: {wrong:?}"
    );
    assert_eq!(tried, tsr.len() * 8);
    assert!(caught >= tried * 95 / 100, "{caught} of {tried}");
    eprintln!(
        "timestamp flips: {tried} tried, {caught} caught, {accepted_elsewhere} in unsigned envelope fields with the same meaning"
    );
    for len in 0..tsr.len() {
        std::fs::write(token_path(&b), &tsr[..len]).unwrap();
        assert!(verify_token(&b, &sha256, &trusted).is_err(), "cut at {len}");
        assert!(request.check_response(&tsr[..len]).is_err(), "cut at {len}");
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..2000 {
        let len = round % 300;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        // Half of them wrapped like a response, so the parser gets past the first header.
        let junk = if round % 2 == 0 {
            tlv(tag::SEQUENCE, &junk)
        } else {
            junk
        };
        assert!(request.check_response(&junk).is_err());
    }
}

#[test]
fn a_token_is_never_written_through_a_link_or_over_a_file() {
    let d = tempfile::tempdir().unwrap();
    let b = d.path().join("b.zip");
    std::fs::write(&b, b"bundle").unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, token_path(&b)).unwrap();
    assert!(matches!(write_token(&b, b"token"), Err(TsError::Io { .. })));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    std::fs::remove_file(token_path(&b)).unwrap();
    let p = write_token(&b, b"token").unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        write_token(&b, b"other").is_err(),
        "never over an existing token"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"token");
}
