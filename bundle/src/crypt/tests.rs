use super::*;
use age::secrecy::ExposeSecret;

fn key_pair() -> (String, String) {
    let id = age::x25519::Identity::generate();
    (
        id.to_public().to_string(),
        id.to_string().expose_secret().to_string(),
    )
}

fn identity_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let p = dir.join(name);
    crate::fsio::write_synced(&p, format!("# test key\n{secret}\n").as_bytes()).unwrap();
    p
}

fn sealed(plain: &[u8], recipients: &Recipients) -> Vec<u8> {
    let mut w = encrypt(Vec::new(), recipients).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap()
}

#[test]
fn a_round_trip_streams_and_seeks() {
    let d = tempfile::tempdir().unwrap();
    let (public, secret) = key_pair();
    let r = Recipients::parse(&[public]).unwrap();
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let ct = sealed(&plain, &r);
    assert!(is_age(&ct));
    assert!(!ct.windows(64).any(|w| w == &plain[1000..1064]));
    let ids = Identities::load(&[identity_file(d.path(), "k", &secret)]).unwrap();
    let (mut rd, len) = decrypt(std::io::Cursor::new(ct), &ids).unwrap();
    assert_eq!(len, plain.len() as u64);
    let mut back = Vec::new();
    rd.read_to_end(&mut back).unwrap();
    assert_eq!(back, plain);
    rd.seek(SeekFrom::Start(200_000)).unwrap();
    let mut part = [0u8; 16];
    rd.read_exact(&mut part).unwrap();
    assert_eq!(part, plain[200_000..200_016]);
}

#[test]
fn a_wrong_identity_is_one_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let (public, _) = key_pair();
    let (_, other) = key_pair();
    let ct = sealed(b"evidence", &Recipients::parse(&[public]).unwrap());
    let ids = Identities::load(&[identity_file(d.path(), "k", &other)]).unwrap();
    let e = decrypt(std::io::Cursor::new(ct), &ids).err().unwrap();
    assert!(e.to_string().contains("none of the --identity keys"), "{e}");
}

#[test]
fn truncated_garbled_and_hostile_files_fail_without_panicking() {
    let d = tempfile::tempdir().unwrap();
    let (public, secret) = key_pair();
    let ids = Identities::load(&[identity_file(d.path(), "k", &secret)]).unwrap();
    let plain = vec![7u8; 200_000];
    let ct = sealed(&plain, &Recipients::parse(&[public]).unwrap());
    let header_end = ct.windows(4).position(|w| w == b"\n---").unwrap() + 60;
    // Cut anywhere: in the header, in the nonce, in the payload, just before the end.
    for cut in [
        10,
        header_end - 30,
        header_end + 5,
        ct.len() / 2,
        ct.len() - 1,
    ] {
        let e = decrypt(std::io::Cursor::new(ct[..cut].to_vec()), &ids);
        assert!(e.is_err(), "cut at {cut} of {}", ct.len());
    }
    // A flipped payload byte: the chunk fails to authenticate when read.
    let mut flipped = ct.clone();
    flipped[header_end + 70_000] ^= 1;
    let read = decrypt(std::io::Cursor::new(flipped), &ids).and_then(|(mut r, _)| {
        let mut sink = Vec::new();
        r.read_to_end(&mut sink)
            .map_err(|e| CryptError::Decrypt(e.to_string()))
    });
    assert!(read.is_err());
    // An endless header, and one with too many stanzas: refused before the age parser.
    let mut endless = MAGIC.to_vec();
    endless.extend(std::iter::repeat_n(b'A', MAX_HEADER + 10));
    let e = decrypt(std::io::Cursor::new(endless), &ids).err().unwrap();
    assert!(e.to_string().contains("no end of header"), "{e}");
    let mut many = MAGIC.to_vec();
    for _ in 0..=MAX_STANZAS {
        many.extend_from_slice(b"-> X25519 AAAA\nAAAA\n");
    }
    many.extend_from_slice(b"--- AAAA\n");
    let e = decrypt(std::io::Cursor::new(many), &ids).err().unwrap();
    assert!(e.to_string().contains("recipient stanzas"), "{e}");
    // Random bytes after a valid magic line.
    let mut junk = MAGIC.to_vec();
    junk.extend((0..5000u32).map(|i| (i * 31 % 256) as u8));
    assert!(decrypt(std::io::Cursor::new(junk), &ids).is_err());
}

#[test]
fn recipients_are_keys_or_files_and_bad_ones_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = key_pair();
    let (b, _) = key_pair();
    let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example";
    let file = d.path().join("recipients.txt");
    std::fs::write(&file, format!("# team\n{b}\n\n{ssh}\n")).unwrap();
    let r = Recipients::parse(&[a, file.display().to_string()]).unwrap();
    assert_eq!(r.len(), 3);
    for bad in ["age1notakey", "ssh-ed25519 AAAA", "/nonexistent/recipients"] {
        let e = Recipients::parse(&[bad.to_string()]).err().unwrap();
        assert!(e.to_string().starts_with("--encrypt-to"), "{e}");
    }
    std::fs::write(&file, "age1zzz\n").unwrap();
    let e = Recipients::parse(&[file.display().to_string()])
        .err()
        .unwrap();
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn an_identity_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let (_, secret) = key_pair();
    let p = identity_file(d.path(), "k", &secret);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Identities::load(&[p]).err().unwrap();
    assert!(e.to_string().contains("readable by group or others"), "{e}");
    let junk = identity_file(d.path(), "j", "not a key");
    assert!(Identities::load(&[junk]).is_err());
}
