//! MITRE ATT&CK Enterprise technique names, from a table bundled with the crate.
//!
//! `plugin-api/data/attack-enterprise.tsv` is generated from MITRE's public ATT&CK STIX data by
//! `plugin-api/data/gen_attack_table.py` (see `plugin-api/data/README.md`): one line per
//! technique and sub-technique (id, name, tactics); its first line names the ATT&CK release.
//! Reports print a technique id with its name ([`label`]), name the release ([`version`]) once,
//! and say what a finding's tactics give an attacker ([`tactics`], [`tactic_gain`]).

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/attack-enterprise.tsv");

/// The ATT&CK release the table was generated from, as the data names it (e.g. "v18.1"): the
/// first line of the table reads "# MITRE ATT&CK Enterprise v18.1: ...".
pub fn version() -> &'static str {
    TABLE
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# MITRE ATT&CK Enterprise "))
        .and_then(|l| l.split(':').next())
        .unwrap_or("(unknown release)")
}

/// "MITRE ATT&CK v18.1": how reports name the release the technique names come from.
pub fn release() -> String {
    format!("MITRE ATT&CK {}", version())
}

/// Technique id → (name, tactics as comma-separated kill-chain phase names).
fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    MAP.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?, (f.next()?, f.next().unwrap_or(""))))
            })
            .collect()
    })
}

/// The tactics (ATT&CK kill-chain phases such as `persistence`, `defense-evasion`) a
/// technique serves; empty for an id the table does not hold.
pub fn tactics(id: &str) -> Vec<&'static str> {
    table()
        .get(id.trim())
        .map(|(_, t)| t.split(',').filter(|t| !t.is_empty()).collect())
        .unwrap_or_default()
}

/// What a tactic gives an attacker, as the end of "it lets an attacker ..." (`None` for a
/// phase name this table does not know).
pub fn tactic_gain(tactic: &str) -> Option<&'static str> {
    Some(match tactic {
        "reconnaissance" => "gather information to plan an attack",
        "resource-development" => "set up infrastructure or tools for an attack",
        "initial-access" => "get a first foothold on the host",
        "execution" => "run code of their choice on the host",
        "persistence" => "keep access across reboots and password changes",
        "privilege-escalation" => "gain higher privileges (root or another account's)",
        "defense-evasion" => "hide from administrators and security tools",
        "credential-access" => "steal passwords, keys or tokens",
        "discovery" => "learn about the host and its network",
        "lateral-movement" => "move on to other hosts",
        "collection" => "gather data of interest",
        "command-and-control" => "control the host remotely",
        "exfiltration" => "carry data off the host",
        "impact" => "disrupt the host or use its resources for their own ends",
        _ => return None,
    })
}

/// The name of an Enterprise technique or sub-technique ("T1036.005" →
/// "Masquerading: Match Legitimate Resource Name or Location"), or `None` for an id the table
/// does not hold (a plugin's typo, a revoked technique, another ATT&CK domain).
pub fn name(id: &str) -> Option<&'static str> {
    table().get(id.trim()).map(|(n, _)| *n)
}

/// "T1036.005 Masquerading: Match Legitimate Resource Name or Location"; the id alone when the
/// table does not know it.
pub fn label(id: &str) -> String {
    match name(id) {
        Some(n) => format!("{id} {n}"),
        None => id.to_string(),
    }
}

/// [`label`] of each id, joined with "; " (names contain commas).
pub fn labels<S: AsRef<str>>(ids: &[S]) -> String {
    ids.iter()
        .map(|i| label(i.as_ref()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Number of techniques and sub-techniques in the table.
pub fn len() -> usize {
    table().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_named_by_the_data() {
        let v = version();
        assert!(v.starts_with('v'), "{v}");
        assert!(v[1..].split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
        assert_eq!(release(), format!("MITRE ATT&CK {v}"));
    }

    #[test]
    fn table_holds_techniques_and_sub_techniques() {
        assert!(len() > 600, "{}", len());
        assert_eq!(
            name("T1036.005"),
            Some("Masquerading: Match Legitimate Resource Name or Location")
        );
        assert_eq!(name("T1105"), Some("Ingress Tool Transfer"));
        assert_eq!(label("T9999"), "T9999");
        assert_eq!(tactics("T1105"), ["command-and-control"]);
        assert!(tactics("T9999").is_empty());
        assert_eq!(
            labels(&["T1105", "T1496"]),
            "T1105 Ingress Tool Transfer; T1496 Resource Hijacking"
        );
    }

    #[test]
    fn every_tactic_of_the_table_says_what_it_gives_an_attacker() {
        for (id, (_, t)) in table() {
            for t in t.split(',').filter(|t| !t.is_empty()) {
                assert!(tactic_gain(t).is_some(), "{id}: tactic {t}");
            }
        }
    }
}
