//! Tests of the event rules: each rule's positive and near-miss cases, the benign and
//! intrusion corpora, and the seed report's export.

use super::*;

#[test]
fn host_keys_fold_case_and_domain_but_not_addresses() {
    assert_eq!(host_key("WAZUH1.x0r.internal.cloudapp.net"), "wazuh1");
    assert_eq!(host_key("web1"), "web1");
    assert_eq!(host_key("10.0.5.5"), "10.0.5.5");
}

#[test]
#[ignore]
fn zz_dump() {
    let path = std::env::var("DUMP").unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let events: Vec<Event> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let a = analyze_events(&events);
    for al in &a.alerts {
        println!(
            "{:?} {} [{}] {} x{} | {}",
            al.severity, al.rule, al.host, al.subject, al.count, al.explanation
        );
    }
    println!(
        "events {} alerts {} ratio {:.4}",
        a.events,
        a.alerts.len(),
        a.alert_ratio()
    );
}
