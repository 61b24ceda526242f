//! The group graph of an inventory (`[group:children]`): cycles refused, depths below `all`,
//! and the group variables that apply to a host.

use super::error::TargetError;
use super::vars::Vars;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Default)]
pub(super) struct Group {
    pub(super) vars: Vars,
    /// Child groups with the line that made them children.
    pub(super) children: Vec<(String, usize)>,
}

/// Refuses `[a:children]` loops, naming the line that closes the loop.
fn check_cycles(file: &str, groups: &BTreeMap<String, Group>) -> Result<(), TargetError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        groups: &'a BTreeMap<String, Group>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Result<(), (usize, String)> {
        marks.insert(name, Mark::Active);
        path.push(name);
        if let Some(g) = groups.get(name) {
            for (child, line) in &g.children {
                match marks.get(child.as_str()) {
                    Some(Mark::Active) => {
                        let start = path.iter().position(|p| p == child).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].to_vec();
                        cycle.push(child);
                        return Err((*line, cycle.join(" -> ")));
                    }
                    Some(Mark::Done) => {}
                    None => visit(child, groups, marks, path)?,
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        Ok(())
    }
    let mut marks = HashMap::new();
    for name in groups.keys() {
        if !marks.contains_key(name.as_str()) {
            visit(name, groups, &mut marks, &mut Vec::new()).map_err(|(line, cycle)| {
                TargetError::Inventory {
                    file: file.to_string(),
                    line,
                    message: format!("group cycle: {cycle}"),
                }
            })?;
        }
    }
    Ok(())
}

/// Depth of a group below `all` (0): top-level groups 1, children one more than their
/// deepest parent. The graph is acyclic (checked before).
fn depth<'a>(
    name: &'a str,
    parents: &HashMap<&'a str, Vec<&'a str>>,
    memo: &mut HashMap<&'a str, usize>,
) -> usize {
    if name == "all" {
        return 0;
    }
    if let Some(&d) = memo.get(name) {
        return d;
    }
    let d = 1 + parents
        .get(name)
        .into_iter()
        .flatten()
        .map(|p| depth(p, parents, memo))
        .max()
        .unwrap_or(0);
    memo.insert(name, d);
    d
}

/// The group graph of an inventory, checked acyclic: each group's parents and depth.
pub(super) struct Hierarchy<'a> {
    groups: &'a BTreeMap<String, Group>,
    parents: HashMap<&'a str, Vec<&'a str>>,
    depths: HashMap<&'a str, usize>,
}

impl<'a> Hierarchy<'a> {
    /// Refuses cycles (naming the line that closes one), then records parents and depths.
    pub(super) fn new(
        file: &str,
        groups: &'a BTreeMap<String, Group>,
    ) -> Result<Hierarchy<'a>, TargetError> {
        check_cycles(file, groups)?;
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for (name, g) in groups {
            for (child, _) in &g.children {
                parents
                    .entry(child.as_str())
                    .or_default()
                    .push(name.as_str());
            }
        }
        let mut depths: HashMap<&str, usize> = HashMap::new();
        for name in groups.keys() {
            depth(name, &parents, &mut depths);
        }
        Ok(Hierarchy {
            groups,
            parents,
            depths,
        })
    }

    /// The group variables of a host listed directly in `direct`: those of every group it is
    /// in, directly or through `:children`, and `all`, merged shallowest first (equal depths
    /// by group name), so deeper groups win.
    pub(super) fn vars_of(&self, direct: &BTreeSet<String>) -> Vars {
        let mut member: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = direct.iter().map(String::as_str).collect();
        todo.push("all");
        while let Some(g) = todo.pop() {
            if member.insert(g) {
                todo.extend(self.parents.get(g).into_iter().flatten().copied());
            }
        }
        let mut ordered: Vec<&str> = member.into_iter().collect();
        ordered.sort_by_key(|g| (self.depths.get(g).copied().unwrap_or(0), *g));
        let mut vars = Vars::default();
        for g in ordered {
            if let Some(group) = self.groups.get(g) {
                vars.merge(&group.vars);
            }
        }
        vars
    }
}
