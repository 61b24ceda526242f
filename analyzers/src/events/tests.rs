//! Tests of the event rules: each rule's positive and near-miss cases, the benign and
//! intrusion corpora, and the seed report's export.

use super::*;

#[test]
fn host_keys_fold_case_and_domain_but_not_addresses() {
    assert_eq!(host_key("WAZUH1.x0r.internal.cloudapp.net"), "wazuh1");
    assert_eq!(host_key("web1"), "web1");
    assert_eq!(host_key("10.0.5.5"), "10.0.5.5");
}
