//! The ATT&CK vocabulary of the exports: a technique id split into technique and
//! sub-technique with names and reference URLs, and the Enterprise tactics (kill-chain phase
//! names of the bundled table) with their ids (`TA0003`), names and URLs. Names come from the
//! table of `dossier_plugin_api::attack`.

use dossier_plugin_api::attack;

/// The framework name both ECS (`threat.framework`) and STIX (`kill_chain_name` is
/// [`KILL_CHAIN`]) use.
pub const FRAMEWORK: &str = "MITRE ATT&CK";

/// The kill-chain name of ATT&CK phases in STIX (as MITRE's own STIX data writes it).
pub const KILL_CHAIN: &str = "mitre-attack";

/// A technique as exports name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Technique {
    /// The technique (`T1053`), its name when the table knows it, its URL.
    pub id: String,
    pub name: Option<&'static str>,
    pub reference: String,
    /// For a sub-technique (`T1053.003`): its id, its own name (`Cron`) and URL.
    pub sub: Option<(String, Option<&'static str>, String)>,
    /// Tactics (kill-chain phase names such as `persistence`).
    pub tactics: Vec<&'static str>,
}

/// `T1053.003` → technique `T1053` "Scheduled Task/Job" with sub-technique `T1053.003`
/// "Cron", their `https://attack.mitre.org/techniques/...` URLs and tactics.
pub fn technique(id: &str) -> Technique {
    let id = id.trim();
    let (parent, sub) = match id.split_once('.') {
        Some((p, s)) => (p, Some(s)),
        None => (id, None),
    };
    let full = attack::name(id);
    Technique {
        id: parent.to_string(),
        name: attack::name(parent).or_else(|| full.map(|n| n.split(": ").next().unwrap_or(n))),
        reference: format!("https://attack.mitre.org/techniques/{parent}/"),
        sub: sub.map(|s| {
            (
                id.to_string(),
                full.map(|n| n.split_once(": ").map_or(n, |(_, own)| own)),
                format!("https://attack.mitre.org/techniques/{parent}/{s}/"),
            )
        }),
        tactics: attack::tactics(id),
    }
}

/// An Enterprise tactic: id, name as ATT&CK writes it, URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tactic {
    /// The kill-chain phase name (`command-and-control`).
    pub phase: &'static str,
    pub id: &'static str,
    pub name: &'static str,
}

impl Tactic {
    /// `https://attack.mitre.org/tactics/TA0011/`.
    pub fn reference(&self) -> String {
        format!("https://attack.mitre.org/tactics/{}/", self.id)
    }
}

/// The Enterprise tactics, in ATT&CK's matrix order.
pub const TACTICS: &[Tactic] = &[
    t("reconnaissance", "TA0043", "Reconnaissance"),
    t("resource-development", "TA0042", "Resource Development"),
    t("initial-access", "TA0001", "Initial Access"),
    t("execution", "TA0002", "Execution"),
    t("persistence", "TA0003", "Persistence"),
    t("privilege-escalation", "TA0004", "Privilege Escalation"),
    t("defense-evasion", "TA0005", "Defense Evasion"),
    t("credential-access", "TA0006", "Credential Access"),
    t("discovery", "TA0007", "Discovery"),
    t("lateral-movement", "TA0008", "Lateral Movement"),
    t("collection", "TA0009", "Collection"),
    t("command-and-control", "TA0011", "Command and Control"),
    t("exfiltration", "TA0010", "Exfiltration"),
    t("impact", "TA0040", "Impact"),
];

const fn t(phase: &'static str, id: &'static str, name: &'static str) -> Tactic {
    Tactic { phase, id, name }
}

/// The tactic of a kill-chain phase name (`None` for one ATT&CK Enterprise does not have).
pub fn tactic(phase: &str) -> Option<Tactic> {
    TACTICS.iter().copied().find(|t| t.phase == phase)
}

/// The tactics of some techniques, each once, in matrix order.
pub fn tactics_of<S: AsRef<str>>(ids: &[S]) -> Vec<Tactic> {
    let phases: Vec<&str> = ids
        .iter()
        .flat_map(|i| attack::tactics(i.as_ref()))
        .collect();
    TACTICS
        .iter()
        .copied()
        .filter(|t| phases.contains(&t.phase))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_technique_is_split_with_its_own_name() {
        let t = technique("T1053.003");
        assert_eq!(t.id, "T1053");
        assert_eq!(t.name, Some("Scheduled Task/Job"));
        assert_eq!(t.reference, "https://attack.mitre.org/techniques/T1053/");
        let (id, name, url) = t.sub.unwrap();
        assert_eq!(
            (id.as_str(), name, url.as_str()),
            (
                "T1053.003",
                Some("Cron"),
                "https://attack.mitre.org/techniques/T1053/003/"
            )
        );
        assert_eq!(
            t.tactics,
            ["execution", "persistence", "privilege-escalation"]
        );
    }

    #[test]
    fn a_technique_and_an_unknown_id() {
        let t = technique("T1496");
        assert_eq!(
            (t.id.as_str(), t.name),
            ("T1496", Some("Resource Hijacking"))
        );
        assert!(t.sub.is_none());
        let u = technique("T9999.001");
        assert_eq!((u.id.as_str(), u.name), ("T9999", None));
        assert_eq!(u.sub.unwrap().1, None);
        assert!(u.tactics.is_empty());
    }

    #[test]
    fn every_phase_of_the_table_is_a_known_tactic() {
        // Every phase name any technique of the bundled table uses has an id here.
        for line in include_str!("../../plugin-api/data/attack-enterprise.tsv").lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let id = line.split('\t').next().unwrap();
            for p in dossier_plugin_api::attack::tactics(id) {
                assert!(tactic(p).is_some(), "{id}: tactic {p} has no id");
            }
        }
        let ts = tactics_of(&["T1053.003", "T1496"]);
        let ids: Vec<&str> = ts.iter().map(|t| t.id).collect();
        assert_eq!(ids, ["TA0002", "TA0003", "TA0004", "TA0040"]);
        assert_eq!(
            tactic("command-and-control").unwrap().reference(),
            "https://attack.mitre.org/tactics/TA0011/"
        );
    }
}
