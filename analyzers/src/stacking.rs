//! Fleet stacking (least frequency of occurrence): counts, across the hosts analyzed together,
//! on how many hosts each inventory item (see [`crate::inventory`]) and each finding
//! ([`finding_key`]) is. A host is an analyzed bundle; an item or finding counts once per host
//! however often it appears there.
//!
//! Memory grows with the number of *distinct* items and findings, not with hosts: per item a
//! count, and where it was seen only while it can still be rare (at most
//! [`RARE_HOSTS_LISTED`] places, dropped once it is on more hosts than can be rare).

use dossier_plugin_api::analysis::Finding;
use dossier_plugin_api::policy::{
    FindingPrevalence, Item, KINDS, KindCount, RARE_HOSTS_LISTED, RareItem, Seen, SeenOn,
    StackingSummary, finding_key,
};
use std::collections::{BTreeSet, HashMap};

/// Rare persistence items listed in reports at most.
pub const RARE_LISTED: usize = 50;

/// An item is rare on at most max(1, 5% of) hosts.
pub fn rare_at_most(hosts: u32) -> u32 {
    (hosts / 20).max(1)
}

#[derive(Debug, Default)]
struct Count {
    hosts: u32,
    /// (host, member index, line), while the item can still be rare.
    seen: Vec<(u32, u32, Option<usize>)>,
}

/// The counters. Rare persistence items are listed rarest first, then by kind in the order
/// of [`KINDS`] (units, cron, hooks, generators, preloads, module configurations, keys), then
/// by key.
#[derive(Debug)]
pub struct Stacker {
    /// Items on more hosts than this are never rare (computed from the most hosts expected).
    can_be_rare: u32,
    items: HashMap<Item, Count>,
    members: Vec<String>,
    member_ids: HashMap<String, u32>,
    findings: HashMap<String, (u32, String, String)>,
    hosts: u32,
}

impl Stacker {
    /// Counters for at most `expected` hosts.
    pub fn new(expected: usize) -> Stacker {
        Stacker {
            can_be_rare: rare_at_most(u32::try_from(expected).unwrap_or(u32::MAX)),
            items: HashMap::new(),
            members: Vec::new(),
            member_ids: HashMap::new(),
            findings: HashMap::new(),
            hosts: 0,
        }
    }

    /// Counts one host (its number `host` is what [`Stacker::summary`] names it by): its
    /// inventory (deduplicated by identity) and its findings (behaviour and context).
    pub fn add<'f>(
        &mut self,
        host: u32,
        inv: &[Seen],
        findings: impl IntoIterator<Item = &'f Finding>,
    ) {
        let findings: Vec<&Finding> = findings.into_iter().collect();
        self.hosts += 1;
        for (i, s) in inv.iter().enumerate() {
            // Once per host (an inventory is sorted by item).
            if i > 0 && inv[i - 1].item == s.item {
                continue;
            }
            let member = match self.member_ids.get(&s.member) {
                Some(&m) => m,
                None => {
                    let m = self.members.len() as u32;
                    self.members.push(s.member.clone());
                    self.member_ids.insert(s.member.clone(), m);
                    m
                }
            };
            let c = match self.items.get_mut(&s.item) {
                Some(c) => c,
                None => self.items.entry(s.item.clone()).or_default(),
            };
            c.hosts += 1;
            if c.hosts > self.can_be_rare {
                if !c.seen.is_empty() {
                    c.seen = Vec::new();
                }
            } else if c.seen.len() < RARE_HOSTS_LISTED {
                c.seen.push((host, member, s.line));
            }
        }
        let keys: BTreeSet<String> = findings.iter().map(|f| finding_key(f)).collect();
        for k in keys {
            let f = findings
                .iter()
                .find(|f| finding_key(f) == k)
                .expect("key of a finding");
            self.findings
                .entry(k)
                .or_insert_with(|| (0, f.rule.clone(), f.subject.clone()))
                .0 += 1;
        }
    }

    /// Hosts counted.
    pub fn hosts(&self) -> u32 {
        self.hosts
    }

    /// On how many hosts a finding (by [`finding_key`]) is; 0 if never counted.
    pub fn hosts_with(&self, f: &Finding) -> u32 {
        self.findings.get(&finding_key(f)).map_or(0, |x| x.0)
    }

    /// The summary; `names` gives the hostname and bundle of a host number.
    pub fn summary(
        &self,
        names: &dyn Fn(u32) -> (String, String),
        common_share: Option<f64>,
        common_findings: usize,
    ) -> StackingSummary {
        let rare = rare_at_most(self.hosts);
        let mut kinds = Vec::new();
        for k in KINDS {
            let of: Vec<&Count> = self
                .items
                .iter()
                .filter(|(i, _)| i.kind == *k)
                .map(|(_, c)| c)
                .collect();
            kinds.push(KindCount {
                kind: k.to_string(),
                distinct: of.len(),
                rare: of.iter().filter(|c| c.hosts <= rare).count(),
            });
        }
        let mut rare_items: Vec<(&Item, &Count)> = self
            .items
            .iter()
            .filter(|(i, c)| i.persistence() && c.hosts <= rare)
            .collect();
        // Rarest first; among equals, by kind (units first, in the order of KINDS), then key.
        let rank = |i: &Item| {
            KINDS
                .iter()
                .position(|k| *k == i.kind)
                .unwrap_or(KINDS.len())
        };
        rare_items.sort_by(|a, b| (a.1.hosts, rank(a.0), a.0).cmp(&(b.1.hosts, rank(b.0), b.0)));
        let left_out = rare_items.len().saturating_sub(RARE_LISTED);
        let rare_persistence = rare_items
            .into_iter()
            .take(RARE_LISTED)
            .map(|(i, c)| {
                let mut seen: Vec<SeenOn> = c
                    .seen
                    .iter()
                    .map(|&(h, m, line)| {
                        let (hostname, bundle) = names(h);
                        SeenOn {
                            hostname,
                            bundle,
                            member: self.members[m as usize].clone(),
                            line,
                        }
                    })
                    .collect();
                seen.sort_by(|a, b| {
                    (&a.hostname, &a.bundle, &a.member, a.line).cmp(&(
                        &b.hostname,
                        &b.bundle,
                        &b.member,
                        b.line,
                    ))
                });
                RareItem {
                    item: i.clone(),
                    hosts: c.hosts,
                    seen,
                    known: false,
                }
            })
            .collect();
        let mut findings: Vec<FindingPrevalence> = self
            .findings
            .values()
            .map(|(n, rule, subject)| FindingPrevalence {
                rule: rule.clone(),
                subject: subject.clone(),
                hosts: *n,
            })
            .collect();
        findings
            .sort_by(|a, b| (a.hosts, &a.rule, &a.subject).cmp(&(b.hosts, &b.rule, &b.subject)));
        findings.dedup();
        StackingSummary {
            hosts: self.hosts,
            rare_at_most: rare,
            kinds,
            rare_persistence,
            listed_at_most: RARE_LISTED,
            left_out,
            common_share,
            common_findings,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(kind: &str, key: &str, sha: &str) -> Seen {
        Seen {
            item: Item {
                kind: kind.into(),
                key: key.into(),
                sha256: Some(sha.into()),
                detail: String::new(),
            },
            member: "records/systemd.jsonl".into(),
            line: Some(7),
            path: None,
        }
    }

    #[test]
    fn rare_items_are_counted_once_per_host_and_listed_rarest_first() {
        let mut s = Stacker::new(6);
        let common = seen("unit", "sshd.service", "aa");
        for h in 0..5 {
            s.add(h, &[common.clone(), common.clone()], []);
        }
        // The same unit name with other content is another item.
        s.add(5, &[common.clone(), seen("unit", "sshd.service", "bb")], []);
        let sum = s.summary(&|h| (format!("h{h}"), format!("h{h}.zip")), None, 0);
        assert_eq!(sum.hosts, 6);
        assert_eq!(sum.rare_at_most, 1);
        assert_eq!(sum.rare_persistence.len(), 1);
        let r = &sum.rare_persistence[0];
        assert_eq!((r.item.sha256.as_deref(), r.hosts), (Some("bb"), 1));
        assert_eq!(r.seen[0].hostname, "h5");
        assert_eq!(r.seen[0].line, Some(7));
        let units = sum.kinds.iter().find(|k| k.kind == "unit").unwrap();
        assert_eq!((units.distinct, units.rare), (2, 1));
        assert_eq!(rare_at_most(48), 2);
        assert_eq!(rare_at_most(1000), 50);
    }
}
