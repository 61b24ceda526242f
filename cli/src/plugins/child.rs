//! The plugin host: what `dossier __plugin-host` runs, in a child process of dossier, for one
//! plugin library. It keeps only its three standard descriptors (every other inherited one is
//! closed first), ends itself when dossier ends (a watch thread), moves the frame channel off stdin and stdout (a plugin printing to stdout
//! writes to stderr, reading stdin reads `/dev/null`), sets its memory limit, then loads the
//! library ([`super::load::open_library`]: owner and mode checks, hash, `dlopen` through the
//! same descriptor) and serves `create`, `call` and `destroy` frames until
//! dossier closes the channel. The plugin's host callbacks become `callback` frames
//! that dossier answers; the child itself touches no target and no bundle.

use super::frame::{self, Frame, Head};
use super::load::open_library;
use dossier_plugin_abi::STATUS_BAD_INPUT;
use dossier_plugin_abi::WireError;
use dossier_plugin_abi::bridge::{CallFailure, Reply};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

/// The hidden first argument that selects this mode (not a subcommand: `--help` never shows it).
pub const HOST_ARG: &str = "__plugin-host";

/// Closes every descriptor above stderr that this process inherited.
fn close_inherited() {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd > 2)
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        // SAFETY: closing a descriptor number this process inherited and does not use (the
        // directory listing's own descriptor is already closed; closing it again is EBADF).
        unsafe { libc::close(fd) };
    }
}

/// Ends this process within a second of dossier's end, even while a plugin call runs (a
/// plugin looping when dossier is killed would otherwise run on, orphaned).
fn watch_parent() {
    let parent = std::os::unix::process::parent_id();
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .stack_size(64 << 10)
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                if std::os::unix::process::parent_id() != parent {
                    // SAFETY: `_exit` ends the process at once, without running the atexit
                    // handlers or destructors the plugin's thread may be in the middle of.
                    unsafe { libc::_exit(3) };
                }
            }
        });
}

/// A close-on-exec copy of `fd` (above 2).
fn dup_cloexec(fd: impl AsFd) -> std::io::Result<OwnedFd> {
    let raw = nix::fcntl::fcntl(fd.as_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: a new descriptor this process now owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The frame channel, moved off the standard descriptors.
fn channel() -> std::io::Result<(BufReader<File>, BufWriter<File>)> {
    let input = dup_cloexec(std::io::stdin())?;
    let output = dup_cloexec(std::io::stdout())?;
    nix::unistd::dup2_stdout(std::io::stderr())?;
    let null = File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    Ok((
        BufReader::with_capacity(1 << 16, File::from(input)),
        BufWriter::with_capacity(1 << 16, File::from(output)),
    ))
}

/// Runs the plugin host on this process's stdin and stdout. Exits 0 when dossier closes the
/// channel, 1 on a broken channel.
pub fn serve() -> ExitCode {
    close_inherited();
    // Shown by ps and top instead of `exe` (the name /proc/self/exe gives).
    let _ = nix::sys::prctl::set_name(c"dossier-plugin");
    watch_parent();
    let (mut rd, mut wr) = match channel() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dossier plugin host: {e}");
            return ExitCode::from(1);
        }
    };
    match run(&mut rd, &mut wr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dossier plugin host: {e}");
            ExitCode::from(1)
        }
    }
}

fn protocol(what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// The output frame of a finished request.
fn done(r: Result<Vec<u8>, CallFailure>) -> Frame {
    match r {
        Ok(out) => Frame::new(Head::Done { status: 0 }, out),
        Err(CallFailure::Status(status, out)) => Frame::new(Head::Done { status }, out),
        Err(CallFailure::Process(m)) => Frame::new(
            Head::Done {
                status: dossier_plugin_abi::STATUS_ERROR,
            },
            WireError::new("other", m).to_json(),
        ),
    }
}

/// Loads the library, then serves requests until the end of the channel.
fn run(rd: &mut BufReader<File>, wr: &mut BufWriter<File>) -> std::io::Result<()> {
    let Some(first) = frame::read(rd)? else {
        return Ok(());
    };
    let Head::Load { memory } = first.head else {
        return Err(protocol("the first request must be `load`"));
    };
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&first.a));
    if memory > 0 {
        let r =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, memory, memory);
        if let Err(e) = r {
            let refused = Head::Refused {
                path: path.display().to_string(),
                message: format!("cannot set the memory limit: {e}"),
            };
            return frame::write(wr, &Frame::new(refused, vec![]));
        }
    }
    let sent = |sha256: &str| {
        let f = Frame::new(
            Head::Hashed {
                sha256: sha256.to_string(),
            },
            vec![],
        );
        frame::write(wr, &f)
    };
    let lib = match open_library(&path, sent) {
        Ok(lib) => lib,
        Err(e) => {
            let refused = Head::Refused {
                path: e.path,
                message: e.message,
            };
            return frame::write(wr, &Frame::new(refused, vec![]));
        }
    };
    frame::write(wr, &Frame::new(Head::Loaded { meta: lib.meta() }, vec![]))?;
    let t = lib.transport().clone();
    // dossier's instance ids -> this library's.
    let mut instances: HashMap<u64, u64> = HashMap::new();
    while let Some(f) = frame::read(rd)? {
        let out = match f.head {
            Head::Create { id, kind } => done(t.create(kind, &f.a).map(|own| {
                instances.insert(id, own);
                Vec::new()
            })),
            Head::Destroy { id } => match instances.remove(&id) {
                Some(own) => done(t.destroy(own).map(|()| Vec::new())),
                None => done(Ok(Vec::new())),
            },
            Head::Call {
                id,
                method,
                callbacks,
            } => {
                let Some(&own) = instances.get(&id) else {
                    let e = WireError::new("bad_input", format!("no instance {id}"));
                    frame::write(
                        wr,
                        &done(Err(CallFailure::Status(STATUS_BAD_INPUT, e.to_json()))),
                    )?;
                    continue;
                };
                let mut lost = None;
                let mut forward = |op: u32, input: &[u8], data: &[u8]| {
                    callback(rd, wr, op, input, data).unwrap_or_else(|e| {
                        lost.get_or_insert(e);
                        Reply::guarded(|| Err(WireError::new("other", "dossier is gone")))
                    })
                };
                let handler = callbacks.then_some(&mut forward as &mut dyn FnMut(_, &_, &_) -> _);
                let r = t.call(own, method, &f.a, handler);
                if let Some(e) = lost {
                    return Err(e);
                }
                done(r)
            }
            other => return Err(protocol(format!("unexpected request {other:?}"))),
        };
        frame::write(wr, &out)?;
    }
    Ok(())
}

/// Sends one callback to dossier and waits for its answer.
fn callback(
    rd: &mut BufReader<File>,
    wr: &mut BufWriter<File>,
    op: u32,
    input: &[u8],
    data: &[u8],
) -> std::io::Result<Reply> {
    let f = Frame {
        head: Head::Callback { op },
        a: input.to_vec(),
        b: data.to_vec(),
    };
    frame::write(wr, &f)?;
    match frame::read(rd)? {
        Some(Frame {
            head: Head::Reply { status },
            a,
            b,
        }) => Ok(Reply {
            status,
            json: a,
            data: b,
        }),
        Some(other) => Err(protocol(format!("expected a reply, got {:?}", other.head))),
        None => Err(std::io::ErrorKind::UnexpectedEof.into()),
    }
}
