//! Race harness for [`LocalHost::open`](super::LocalHost): a thread swaps a symbolic link
//! between a regular file, a FIFO and a character device (a private `/dev/null` node) as fast
//! as it can while the host opens the link thousands of times. inotify watches the FIFO and the
//! device for `IN_OPEN` (an `O_PATH` look generates none; a real open does): not one may come.

use super::*;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// inotify descriptor watching `paths` for opens.
fn watch_opens(paths: &[&Path]) -> OwnedFd {
    // SAFETY: plain syscall; the result is checked and owned below.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(
        fd >= 0,
        "inotify_init1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    for p in paths {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid descriptor and a NUL-terminated path.
        let w = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_OPEN) };
        assert!(
            w >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
    }
    fd
}

/// Bytes of inotify events waiting (0: nothing was opened).
fn opens_seen(fd: &OwnedFd) -> usize {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return total;
        }
        total += n as usize;
    }
}

/// Opens `path` through `host` `rounds` times while `dir/link` is swapped between `targets`;
/// returns (regular files opened, refusals, other errors). Panics if an open hangs.
fn race(host: LocalHost, path: PathBuf, dir: &Path, targets: &[&str], rounds: usize) -> [usize; 3] {
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let dir = dir.to_path_buf();
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        std::thread::spawn(move || {
            let (tmp, link) = (dir.join("link.tmp"), dir.join("link"));
            while !stop.load(Ordering::Relaxed) {
                for t in &targets {
                    let _ = std::fs::remove_file(&tmp);
                    symlink(t, &tmp).unwrap();
                    std::fs::rename(&tmp, &link).unwrap();
                }
            }
        })
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut counts = [0usize; 3];
        for _ in 0..rounds {
            match host.open(&path) {
                Ok(mut f) => {
                    assert_eq!(f.meta().kind, FileKind::File);
                    let mut s = String::new();
                    f.read_to_string(&mut s).unwrap();
                    assert_eq!(s, "regular\n");
                    counts[0] += 1;
                }
                Err(e) if e.kind == HostErrorKind::NotRegular => counts[1] += 1,
                Err(e) => {
                    if counts[2] == 0 {
                        eprintln!("other error: {e}");
                    }
                    counts[2] += 1
                }
            }
        }
        let _ = tx.send(counts);
    });
    let counts = rx.recv_timeout(Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    counts.expect("an open blocked (a FIFO was opened?)")
}

#[test]
fn a_symlink_swapped_to_a_fifo_or_device_is_never_opened() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("reg"), "regular\n").unwrap();
    nix::unistd::mkfifo(&dir.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    symlink("reg", dir.join("link")).unwrap();
    let mut targets = vec!["reg", "fifo"];
    let mut watched = vec![dir.join("fifo")];
    // A private /dev/null (char 1:3): needs CAP_MKNOD; without it the FIFO alone is raced.
    match nix::sys::stat::mknod(
        &dir.join("dev"),
        nix::sys::stat::SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    ) {
        Ok(()) => {
            targets.extend(["reg", "dev"]);
            watched.push(dir.join("dev"));
        }
        Err(e) => eprintln!("no device node in the race (mknod: {e}); FIFO only"),
    }
    let watched: Vec<&Path> = watched.iter().map(PathBuf::as_path).collect();
    let inotify = watch_opens(&watched);
    let rounds = 20_000;
    let live = race(LocalHost::live(), dir.join("link"), dir, &targets, rounds);
    let live_opens = opens_seen(&inotify);
    let image = race(
        LocalHost::image(dir).unwrap(),
        PathBuf::from("/link"),
        dir,
        &targets,
        rounds,
    );
    let image_opens = opens_seen(&inotify);
    eprintln!("live [read, refused, other]: {live:?}; image: {image:?}");
    // The race was run: both kinds of outcome happened.
    assert!(live[0] > 0 && live[1] > 0, "live: {live:?}");
    assert!(image[0] > 0 && image[1] > 0, "image: {image:?}");
    assert_eq!(
        live[2] + image[2],
        0,
        "other errors: live {live:?}, image {image:?}"
    );
    assert_eq!(
        (live_opens, image_opens),
        (0, 0),
        "a FIFO or device was opened (bytes of inotify IN_OPEN events, live and image)"
    );
}
