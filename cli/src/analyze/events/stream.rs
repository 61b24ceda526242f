//! The imported events on their way to the rules: [`Rules`], the end of that way (each keyed
//! line read back and pushed through the event rules), and [`Stream`], the short way for the
//! one import bundle of a run whose events come in time order (as `dossier import` writes
//! the events of an audit log or a Defender export).
//!
//! The external sort of [`super::Imports`] is what makes the rules see the events in time
//! order whatever the bundles; it holds every event before the first goes through the rules.
//! When a run has a single import bundle ([`may_import`] tells before the run which bundles
//! can be one), its events are pushed through a small reorder window instead ([`WINDOW`]
//! bytes of keyed lines, held in order): the smallest line leaves the window when it is
//! full, and as long as no line read is smaller than the last that left, the lines leave in
//! exactly the order the sort gives (the same keyed lines compared as the same bytes). They
//! go, in batches, to a thread that runs the rules meanwhile, while this one inflates,
//! hashes and reads the rest. A line that comes too late stops the stream: its thread and rules are
//! dropped and the bundle is read again into the sort, as if the stream had never been. The
//! rules' result is only taken once the bundle verified ([`Direct`]): a bundle refused is
//! dropped with what its events made.

use super::{EVENTS_MEMBER, EventTime, MAX_LINE, NAMED_ERRORS, leading_time, time_key_of};
use crate::extsort::KEY_LEN;
use dossier_analyzers::events::EventAnalyzer;
use dossier_bundle::reader::{Bundle, MemberError};
use dossier_events::EventRef;
use std::collections::{BTreeSet, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes of keyed lines the reorder window holds (events a little out of order, such as
/// audit records completed out of serial order, still stream).
pub(super) const WINDOW: usize = 4 << 20;
/// Bytes of sorted lines sent to the rules' thread at a time.
const BATCH: usize = 256 << 10;
/// Batches waiting for the rules' thread at most (memory stays bounded when it lags).
const QUEUED: usize = 8;

/// Whether the bundle at `path` may be an import bundle: false only for a zip archive whose
/// central directory lists no events member (an encrypted or unreadable bundle may be one).
pub(super) fn may_import(path: &Path) -> bool {
    let limits = dossier_bundle::reader::Limits::default();
    dossier_bundle::reader::lists_member(path, EVENTS_MEMBER, limits.max_entries) != Some(false)
}

/// Reads the events member of `b` (file name `name`, `tail_name` as keyed lines end), giving
/// each event's keyed line to `keyed` (which returns whether to go on) and noting the
/// first unreadable lines in `errors`: (events, unreadable lines, how the read ended).
pub(super) fn read_events(
    b: &mut Bundle,
    name: &str,
    tail_name: &str,
    errors: &mut Vec<String>,
    keyed: &mut dyn FnMut(String) -> bool,
) -> (u64, u64, Result<(), MemberError>) {
    let (mut events, mut bad) = (0u64, 0u64);
    let mut note = |msg: String, bad: &mut u64| {
        *bad += 1;
        if (*bad as usize) <= NAMED_ERRORS {
            errors.push(msg);
        }
    };
    if b.member(EVENTS_MEMBER).is_none() {
        return (0, 0, Ok(()));
    }
    let read = b.member_lines_while(EVENTS_MEMBER, MAX_LINE, &mut |line, text| {
        if text.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        // Only the time is read here; the whole event is read once, by the rules.
        let time = match leading_time(text) {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => match serde_json::from_slice::<EventTime<'_>>(text) {
                Ok(t) => t.time,
                Err(err) => {
                    note(
                        format!("{name}: {EVENTS_MEMBER} line {line}: not an event: {err}"),
                        &mut bad,
                    );
                    return true;
                }
            },
        };
        let Ok(raw) = std::str::from_utf8(text) else {
            note(
                format!("{name}: {EVENTS_MEMBER} line {line}: not UTF-8"),
                &mut bad,
            );
            return true;
        };
        events += 1;
        let mut line_key = String::with_capacity(KEY_LEN + raw.len() + tail_name.len() + 22);
        line_key.push_str(&time_key_of(&time));
        line_key.push_str(raw);
        line_key.push('\t');
        line_key.push_str(tail_name);
        line_key.push('\t');
        {
            use std::fmt::Write as _;
            let _ = write!(line_key, "{line}");
        }
        keyed(line_key)
    });
    (events, bad, read)
}

/// The end of the sort: each line it writes is an event (then a tab, the bundle's name, a
/// tab and the line number), read and pushed through the rules.
pub(super) struct Rules {
    pub(super) analyzer: EventAnalyzer,
    /// The part of a line written so far.
    line: Vec<u8>,
    /// Lines that are not events, and the first few of them named.
    pub(super) bad: u64,
    pub(super) errors: Vec<String>,
    /// Bundles refused after their events were taken (see [`super::Imports::take`]).
    refused: BTreeSet<String>,
}

impl Rules {
    /// No line yet; the lines of the `refused` bundles are dropped.
    pub(super) fn new(refused: BTreeSet<String>) -> Rules {
        Rules {
            analyzer: EventAnalyzer::new(),
            line: Vec::new(),
            bad: 0,
            errors: Vec::new(),
            refused,
        }
    }

    /// One sorted line: the event (JSON, no raw tab), a tab, the bundle's name, a tab and
    /// the line number.
    fn line_done(&mut self, text: &[u8]) {
        let (raw, tail) = match memchr::memchr(b'\t', text) {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => (text, &b""[..]),
        };
        let (name, line) = match memchr::memrchr(b'\t', tail) {
            Some(i) => (&tail[..i], &tail[i + 1..]),
            None => (tail, &b"?"[..]),
        };
        let name = String::from_utf8_lossy(name);
        if !self.refused.is_empty() && self.refused.contains(name.as_ref()) {
            return;
        }
        // Every line was checked to be UTF-8 when taken; read lossily otherwise, as ever.
        // The event borrows its text from the line (see `EventRef`).
        let lossy;
        let parsed = match std::str::from_utf8(raw) {
            Ok(raw) => serde_json::from_str::<EventRef<'_>>(raw),
            Err(_) => {
                lossy = String::from_utf8_lossy(raw).into_owned();
                serde_json::from_str::<EventRef<'_>>(&lossy)
            }
        };
        match parsed {
            Ok(e) => self.analyzer.push_ref_from(&e, &name),
            Err(err) => {
                self.bad += 1;
                if self.bad as usize <= NAMED_ERRORS {
                    let line = String::from_utf8_lossy(line);
                    self.errors.push(format!(
                        "{name}: {EVENTS_MEMBER} line {line}: not an event: {err}"
                    ));
                }
            }
        }
    }
}

impl Write for Rules {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if self.line.is_empty() {
                // The whole line is in this buffer: read in place.
                self.line_done(&rest[..i]);
            } else {
                self.line.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line);
                self.line = line;
                self.line.clear();
            }
            rest = &rest[i + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rules' thread: every batch it is sent, through [`Rules`].
fn run_rules(rx: Receiver<Vec<u8>>) -> Rules {
    let mut rules = Rules::new(BTreeSet::new());
    for batch in rx {
        // Writing to the rules cannot fail.
        let _ = rules.write_all(&batch);
    }
    rules
}

/// The keyed lines of one import bundle on their way to the rules' thread, in sort order as
/// long as they come in order within the window.
pub(super) struct Stream {
    tx: Option<SyncSender<Vec<u8>>>,
    worker: Option<JoinHandle<Rules>>,
    /// The lines held, in order.
    window: VecDeque<String>,
    window_bytes: usize,
    /// The last line that left the window.
    last: Option<String>,
    batch: Vec<u8>,
    ordered: bool,
    window_cap: usize,
}

impl Stream {
    /// The rules' thread started, nothing sent yet; `window`: bytes of the reorder window.
    pub(super) fn start(window: usize) -> Stream {
        let (tx, rx) = sync_channel(QUEUED);
        Stream {
            tx: Some(tx),
            worker: Some(std::thread::spawn(move || run_rules(rx))),
            window: VecDeque::new(),
            window_bytes: 0,
            last: None,
            batch: Vec::with_capacity(BATCH + (64 << 10)),
            ordered: true,
            window_cap: window,
        }
    }

    /// Takes the next keyed line; false (and the stream is no longer [`Stream::ordered`])
    /// when it sorts before a line already sent.
    pub(super) fn push(&mut self, keyed: String) -> bool {
        if !self.ordered || self.last.as_ref().is_some_and(|l| keyed < *l) {
            self.ordered = false;
            return false;
        }
        self.window_bytes += keyed.len() + std::mem::size_of::<String>();
        // In order, the usual case: one comparison with the newest line held.
        if self.window.back().is_none_or(|b| *b <= keyed) {
            self.window.push_back(keyed);
        } else {
            let at = self.window.partition_point(|held| *held <= keyed);
            self.window.insert(at, keyed);
        }
        while self.window_bytes > self.window_cap {
            let Some(next) = self.window.pop_front() else {
                break;
            };
            self.window_bytes -= next.len() + std::mem::size_of::<String>();
            self.emit(next);
        }
        true
    }

    /// Whether every line so far came in time (the stream stands for the sort).
    pub(super) fn ordered(&self) -> bool {
        self.ordered
    }

    /// Appends a line (without its key) to the batch, sending the batch when full.
    fn emit(&mut self, keyed: String) {
        self.batch.extend_from_slice(&keyed.as_bytes()[KEY_LEN..]);
        self.batch.push(b'\n');
        self.last = Some(keyed);
        if self.batch.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH + (64 << 10)));
        if let Some(tx) = &self.tx {
            // A thread that stopped (it panicked) says so when joined.
            let _ = tx.send(batch);
        }
    }

    /// Every line read: the rest of the window goes to the rules, whose thread then ends.
    pub(super) fn finish(mut self) -> Running {
        while let Some(next) = self.window.pop_front() {
            self.emit(next);
        }
        if !self.batch.is_empty() {
            self.send();
        }
        self.tx = None;
        Running {
            worker: self.worker.take(),
        }
    }
}

impl Drop for Stream {
    /// A stream given up: its thread ends once it has seen what was sent; what it made is
    /// dropped.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The rules' thread of a stream whose every line was sent.
pub(super) struct Running {
    worker: Option<JoinHandle<Rules>>,
}

impl Running {
    /// Waits for the rules to see the last line.
    pub(super) fn join(mut self) -> Rules {
        let w = self.worker.take().expect("joined once");
        w.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The import bundle whose events went straight through the rules, and verified: kept open
/// until the end of the run, so that its events can be read again into the sort if another
/// import bundle comes after all.
pub(super) struct Direct {
    pub(super) rules: Running,
    pub(super) bundle: Box<Bundle>,
    pub(super) name: String,
    pub(super) tail_name: String,
    /// How its read ended (the error's text), for the read again to compare.
    pub(super) ended: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::Imports;
    use crate::orchestrate::Custody;
    use dossier_bundle::crypt::Identities;
    use dossier_bundle::reader::Limits;
    use std::path::{Path, PathBuf};

    fn story(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/events-story")
            .join(name)
    }

    /// An import bundle of `files` (host `host`) in a directory of its own under `dir`.
    fn import(dir: &Path, files: Vec<PathBuf>, host: &str) -> PathBuf {
        let out = dir.join(format!("b-{host}"));
        let plan = crate::import::ImportPlan {
            files,
            format: None,
            host: Some(host.into()),
            out: out.clone(),
            custody: Custody {
                case_id: None,
                examiner: None,
                signer: None,
                tsa: None,
                recipients: None,
            },
            quiet: true,
        };
        crate::import::import(plan).unwrap();
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "zip"))
            .unwrap()
    }

    /// The events stage over `bundles`: the analysis, sources and errors as text, and
    /// whether the events went through the stream.
    fn run(bundles: &[&Path], direct: bool, window: usize) -> (String, bool) {
        let out = tempfile::tempdir().unwrap();
        let mut imports = Imports::new(out.path());
        imports.direct_ok = direct;
        imports.window = window;
        for p in bundles {
            let b = crate::analyze::open::open_checked_streaming(
                p,
                None,
                &Limits::default(),
                &Identities::none(),
            )
            .unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            imports.take(Box::new(b), &name).unwrap();
        }
        let streamed = imports.direct.is_some();
        let (analysis, mut sources, errors) = imports.analyze().unwrap();
        // As the report lists them.
        sources.sort_by(|a, b| a.bundle.cmp(&b.bundle));
        assert!(analysis.events > 0);
        (format!("{analysis:?}\n{sources:?}\n{errors:?}"), streamed)
    }

    #[test]
    fn the_stream_gives_what_the_sort_gives_and_stops_on_a_late_event() {
        let d = tempfile::tempdir().unwrap();
        let audit = import(d.path(), vec![story("web1-audit.log")], "web1");
        // Defender rows newest first: the events come in reverse time order.
        let csv = std::fs::read_to_string(story("db1-mde-DeviceProcessEvents.csv")).unwrap();
        let mut rows: Vec<&str> = csv.lines().collect();
        rows[1..].reverse();
        let reversed = d.path().join("DeviceProcessEvents.csv");
        std::fs::write(&reversed, rows.join("\n") + "\n").unwrap();
        let mde = import(d.path(), vec![reversed], "db1");

        let (sorted, streamed) = run(&[&audit], false, super::WINDOW);
        assert!(!streamed);
        assert_eq!(run(&[&audit], true, super::WINDOW), (sorted.clone(), true));
        // Without a window, the story's audit log (a few events a little out of order) is
        // read again into the sort.
        assert_eq!(run(&[&audit], true, 1), (sorted, false));

        // Out of order past the window: read again into the sort.
        let (sorted, _) = run(&[&mde], false, super::WINDOW);
        assert_eq!(run(&[&mde], true, 1), (sorted.clone(), false));
        // Within the window: reordered by it.
        assert_eq!(run(&[&mde], true, super::WINDOW), (sorted, true));

        // A second import bundle after one streamed: both through the sort.
        let (sorted, _) = run(&[&audit, &mde], false, super::WINDOW);
        assert_eq!(
            run(&[&audit, &mde], true, super::WINDOW),
            (sorted.clone(), false)
        );
        assert_eq!(run(&[&mde, &audit], true, 1), (sorted, false));
    }

    #[test]
    fn only_a_zip_without_events_cannot_be_an_import_bundle() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles");
        assert!(!super::may_import(
            &fixtures.join("esxi-web01-snapshot.zip")
        ));
        let d = tempfile::tempdir().unwrap();
        let audit = import(d.path(), vec![story("web1-audit.log")], "web1");
        assert!(super::may_import(&audit));
        let junk = d.path().join("junk.zip");
        std::fs::write(&junk, b"not a zip").unwrap();
        assert!(super::may_import(&junk));
        assert!(super::may_import(&d.path().join("missing.zip")));
    }
}
