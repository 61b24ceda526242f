//! A reader of rendered fleet reports for tests: does every count of the summary match what
//! the report lists?

use super::severity::ORDER;

/// Reads a rendered fleet report back and names every count of its summary that does not
/// match what the report lists (alerts by severity against the alerts, hosts per verdict and
/// findings against the host table, the executive summary's counts): empty when they agree.
/// Tests check every fleet report they render with it.
pub fn summary_mismatches(report: &str) -> Vec<String> {
    let summary = Summary::read(report);
    let mut bad = Vec::new();
    summary.check_hosts(&mut bad);
    summary.check_alerts(&mut bad);
    bad
}

/// A rendered report and the rows of its host table.
struct Summary<'r> {
    report: &'r str,
    rows: Vec<Vec<&'r str>>,
}

/// The number a summary field starts with (`3 (HIGH: 2, LOW: 1)` is 3).
fn number(s: &str) -> Option<usize> {
    s.split([' ', '('])
        .next()
        .and_then(|n| n.parse::<usize>().ok())
}

impl<'r> Summary<'r> {
    fn read(report: &'r str) -> Self {
        // The host table: rows between its header and the first blank line.
        let rows: Vec<Vec<&str>> = report
            .lines()
            .skip_while(|l| !l.starts_with("| host | verdict |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        Summary { report, rows }
    }

    /// The value of the summary field `**NAME:** value`.
    fn field(&self, name: &str) -> Option<&'r str> {
        self.report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("**{name}:** ")))
            .map(|v| v.trim_end())
    }

    /// Hosts analyzed, findings and verdicts against the host table, and the executive
    /// summary's counts.
    fn check_hosts(&self, bad: &mut Vec<String>) {
        if self.field("Hosts analyzed").and_then(number) != Some(self.rows.len()) {
            bad.push(format!(
                "Hosts analyzed {:?}, host table has {} rows",
                self.field("Hosts analyzed"),
                self.rows.len()
            ));
        }
        let findings: usize = self
            .rows
            .iter()
            .filter_map(|r| r.get(3).and_then(|n| n.parse::<usize>().ok()))
            .sum();
        if self.field("Findings").and_then(number) != Some(findings) {
            bad.push(format!(
                "Findings {:?}, host table sums to {findings}",
                self.field("Findings")
            ));
        }
        let verdicts = ["Malicious likely", "Suspicious", "Unclear/Benign"];
        let table_verdicts: Vec<usize> = verdicts
            .iter()
            .map(|v| self.rows.iter().filter(|r| r.get(1) == Some(v)).count())
            .collect();
        let said = verdicts
            .iter()
            .zip(&table_verdicts)
            .map(|(v, n)| format!("{v}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.field("Verdicts") != Some(said.as_str()) {
            bad.push(format!(
                "Verdicts {:?}, host table says {said}",
                self.field("Verdicts")
            ));
        }
        let summary = format!(
            "{} of {} analyzed hosts are likely compromised",
            table_verdicts[0],
            self.rows.len()
        );
        if !self.report.contains(&summary) {
            bad.push(format!("executive summary does not say \"{summary}\""));
        }
        if table_verdicts[1] > 0 || self.report.contains("## Executive Summary") {
            let sus = format!(", {} suspicious", table_verdicts[1]);
            if !self.report.contains(&sus) {
                bad.push(format!("executive summary does not say \"{sus}\""));
            }
        }
    }

    /// Alerts by severity and the highest severity against the alerts listed.
    fn check_alerts(&self, bad: &mut Vec<String>) {
        // Alerts: the severity of each one listed.
        let mut listed = [0usize; 5];
        let mut in_alert = false;
        for l in self.report.lines() {
            if l.starts_with("### ALERT-") {
                in_alert = true;
            } else if l.starts_with("## ") || l.starts_with("### FLEET-") {
                in_alert = false;
            } else if let (true, Some(sev)) = (in_alert, l.strip_prefix("**Severity:** ")) {
                let sev = sev.trim_end();
                match ORDER.iter().position(|s| s.label() == sev) {
                    Some(i) => listed[i] += 1,
                    None => bad.push(format!("alert with unknown severity {sev:?}")),
                }
                in_alert = false;
            }
        }
        let headings = self
            .report
            .lines()
            .filter(|l| l.starts_with("### ALERT-"))
            .count();
        if headings != listed.iter().sum::<usize>() {
            bad.push(format!(
                "{headings} alert headings, {} alert severities",
                listed.iter().sum::<usize>()
            ));
        }
        let said: Vec<String> = ORDER
            .iter()
            .zip(listed)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{}: {n}", s.label()))
            .collect();
        let said = if said.is_empty() {
            headings.to_string()
        } else {
            format!("{headings} ({})", said.join(", "))
        };
        if self.field("Alerts") != Some(said.as_str()) {
            bad.push(format!(
                "Alerts {:?}, the report lists {said}",
                self.field("Alerts")
            ));
        }
        // Hosts with alerts have a row (alerts say "on HOST").
        let highest_listed = ORDER
            .iter()
            .zip(listed)
            .find(|(_, n)| *n > 0)
            .map(|(s, _)| s.label());
        if self
            .field("Highest severity")
            .is_some_and(|h| Some(h) != highest_listed && headings > 0)
        {
            bad.push(format!(
                "Highest severity {:?}, highest alert {highest_listed:?}",
                self.field("Highest severity")
            ));
        }
    }
}
