//! Tests of the STIX bundle: which IOCs become indicators, their fields, determinism.

use super::*;
use crate::ecs::tests::sample_host;

fn objects<'a>(b: &'a Value, kind: &str) -> Vec<&'a Value> {
    b["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == kind)
        .collect()
}

fn sample() -> Analyses {
    Analyses {
        hosts: vec![sample_host()],
        fleet: vec![],
        events: vec![],
    }
}

#[test]
fn flagged_iocs_become_indicators_with_their_patterns() {
    let b = bundle(&sample());
    assert_eq!(b["type"], "bundle");
    let patterns: Vec<&str> = objects(&b, "indicator")
        .iter()
        .map(|i| i["pattern"].as_str().unwrap())
        .collect();
    // PIDs give none; the informational finding none; the unit's path and the cron entry's
    // path are one indicator; context standing alone (/opt/tool) none.
    assert_eq!(
        patterns,
        [
            "[file:hashes.'SHA-256' = 'b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794']",
            "[file:name = 'syncd' AND file:parent_directory_ref.path = '/tmp/.x']",
            "[file:name = 'syncd.service']",
            "[ipv4-addr:value = '203.0.113.45']",
            "[ipv6-addr:value = '2001:db8::7']",
            "[network-traffic:dst_port = 4444]",
            "[process:command_line = '/tmp/.x/syncd >/dev/null 2>&1']",
            "[user-account:account_login = 'deploy']",
        ]
    );
    let path = objects(&b, "indicator")[1];
    assert_eq!(path["valid_from"], "2026-11-20T02:15:00.000Z");
    assert_eq!(path["created"], path["valid_from"]);
    assert_eq!(path["indicator_types"], json!(["malicious-activity"]));
    assert_eq!(path["pattern_type"], "stix");
    assert_eq!(path["spec_version"], "2.1");
    assert_eq!(
        path["description"],
        "Flagged by dossier on web1 (rules exec-unowned, reverse-shell, root-cron-reboot, \
         unit-name-mismatch; highest severity critical)"
    );
    let phases: Vec<&str> = path["kill_chain_phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["kill_chain_name"], "mitre-attack");
            p["phase_name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        phases,
        [
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "command-and-control"
        ]
    );
    assert_eq!(path["labels"].as_array().unwrap().len(), 5);
    let login = objects(&b, "indicator")[7];
    assert_eq!(login["indicator_types"], json!(["anomalous-activity"]));
    let ident = &objects(&b, "identity")[0];
    assert_eq!(ident["identity_class"], "system");
    for o in b["objects"].as_array().unwrap().iter().skip(1) {
        assert_eq!(o["created_by_ref"], ident["id"]);
    }
}

#[test]
fn techniques_are_attack_patterns_that_indicators_indicate() {
    let b = bundle(&sample());
    let aps = objects(&b, "attack-pattern");
    let ids: Vec<&str> = aps
        .iter()
        .map(|a| a["external_references"][0]["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "T1036.004",
            "T1053.003",
            "T1059.004",
            "T1078",
            "T1105",
            "T1543.002"
        ]
    );
    assert_eq!(aps[1]["name"], "Scheduled Task/Job: Cron");
    assert_eq!(
        aps[1]["external_references"][0]["url"],
        "https://attack.mitre.org/techniques/T1053/003/"
    );
    let rels = objects(&b, "relationship");
    let hash = objects(&b, "indicator")[0];
    let from_hash: Vec<&Value> = rels
        .iter()
        .filter(|r| r["source_ref"] == hash["id"])
        .map(|r| &r["target_ref"])
        .collect();
    assert_eq!(
        from_hash,
        [&aps[1]["id"]],
        "the hash came from the cron finding only"
    );
    assert!(rels.iter().all(|r| r["relationship_type"] == "indicates"));
}

#[test]
fn the_same_analyses_give_the_same_bundle_and_new_content_new_ids() {
    let a = sample();
    assert_eq!(to_json(&a), to_json(&a.clone()));
    let ids = |b: &Value| -> BTreeSet<String> {
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = bundle(&a);
    assert_eq!(
        ids(&first).len(),
        first["objects"].as_array().unwrap().len()
    );
    // A second host flagging the same address: still one indicator for it, with both hosts
    // and the earlier collection time, and a new id (its content changed).
    let mut b = a.clone();
    let mut other = sample_host();
    other.hostname = "db1".into();
    other.collected_started = Timestamp::parse("2026-11-19T23:00:00.123456Z").unwrap();
    other.findings.retain(|f| f.rule == "reverse-shell");
    other.context.clear();
    b.hosts.push(other);
    let second = bundle(&b);
    let addr = |bd: &Value| {
        objects(bd, "indicator")
            .into_iter()
            .find(|i| i["pattern"] == "[ipv4-addr:value = '203.0.113.45']")
            .cloned()
            .unwrap()
    };
    let (a1, a2) = (addr(&first), addr(&second));
    assert_eq!(a2["valid_from"], "2026-11-19T23:00:00.123Z");
    assert!(
        a2["description"]
            .as_str()
            .unwrap()
            .contains("on db1, web1 ")
    );
    assert_ne!(a1["id"], a2["id"]);
    assert_ne!(first["id"], second["id"]);
    // Identity and attack patterns keep their ids.
    assert_eq!(objects(&first, "identity"), objects(&second, "identity"));
}

#[test]
fn nothing_flagged_is_a_bundle_of_the_identity_alone() {
    let mut h = sample_host();
    h.findings.retain(|f| f.severity == Severity::Info);
    h.context.clear();
    let b = bundle(&Analyses {
        hosts: vec![h],
        fleet: vec![],
        events: vec![],
    });
    assert_eq!(b["objects"].as_array().unwrap().len(), 1);
    assert_eq!(b["objects"][0]["type"], "identity");
}

#[test]
fn packaged_executables_are_never_indicators() {
    let mut h = sample_host();
    h.executables[0].packaged = true;
    let b = bundle(&Analyses {
        hosts: vec![h],
        fleet: vec![],
        events: vec![],
    });
    for i in objects(&b, "indicator") {
        let p = i["pattern"].as_str().unwrap();
        assert!(!p.contains("'syncd' AND") && !p.contains("b904a0"), "{p}");
    }
}

#[test]
fn indicators_of_imported_event_alerts_join_those_of_findings() {
    let report =
        crate::events::parse(crate::events::tests::sample_report().to_string().as_bytes()).unwrap();
    let mut a = sample();
    a.events.push(report);
    let b = bundle(&a);
    let addr = objects(&b, "indicator")
        .into_iter()
        .find(|i| i["pattern"] == "[ipv4-addr:value = '203.0.113.45']")
        .unwrap();
    // Flagged by the triage finding (collected 02:15) and the alert (event at 02:11).
    assert_eq!(addr["valid_from"], "2026-11-20T02:11:00.123Z");
    assert_eq!(
        addr["description"],
        "Flagged by dossier on web1 (rules event-reverse-shell, reverse-shell; highest \
         severity critical)"
    );
    // The alert without indicators adds none; the number of indicators is unchanged.
    assert_eq!(
        objects(&b, "indicator").len(),
        objects(&bundle(&sample()), "indicator").len()
    );
}
