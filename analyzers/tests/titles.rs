//! The rule titles of the code and of the message catalogues cannot drift apart: every
//! built-in rule and every event rule has its title in each language's `rules.toml`, and the
//! English one is the title the code gives its findings (so English reports stay as they were);
//! the same for the descriptions of the event rules (`events-rules.toml`).

use dossier_analyzers::events::EVENT_RULES;
use dossier_analyzers::rules::CATALOG;
use dossier_i18n::{Lang, catalog};

fn titles() -> Vec<(&'static str, &'static str)> {
    CATALOG
        .iter()
        .map(|r| (r.id, r.title))
        .chain(EVENT_RULES.iter().map(|r| (r.id, r.title)))
        .collect()
}

#[test]
fn every_rule_title_is_the_english_catalogue_s_and_every_language_has_one() {
    let mut problems = Vec::new();
    for (id, title) in titles() {
        let key = format!("rule.{id}.title");
        match catalog(Lang::En).get(&key) {
            Some(t) if t == title => {}
            other => problems.push(format!("en {key}: {other:?}, code says {title:?}")),
        }
        for lang in Lang::ALL {
            if catalog(lang).get(&key).is_none_or(|t| t.trim().is_empty()) {
                problems.push(format!("{lang}: no {key}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalogue_has_no_title_of_a_rule_that_does_not_exist() {
    let ids: Vec<&str> = titles().iter().map(|(id, _)| *id).collect();
    let stale: Vec<&str> = catalog(Lang::En)
        .ids()
        .filter_map(|k| k.strip_prefix("rule.")?.strip_suffix(".title"))
        .filter(|id| !ids.contains(id))
        .collect();
    assert!(stale.is_empty(), "titles of no rule: {stale:?}");
}

#[test]
fn every_event_rule_description_is_the_english_catalogue_s_and_every_language_has_one() {
    let mut problems = Vec::new();
    for r in EVENT_RULES {
        let key = format!("event-rule.{}.description", r.id);
        if catalog(Lang::En).get(&key) != Some(r.description) {
            problems.push(format!("en {key} is not the description of the code"));
        }
        if catalog(Lang::ZhCn)
            .get(&key)
            .is_none_or(|t| t.trim().is_empty())
        {
            problems.push(format!("zh-CN: no {key}"));
        }
    }
    let stale: Vec<&str> = catalog(Lang::En)
        .ids()
        .filter_map(|k| k.strip_prefix("event-rule.")?.strip_suffix(".description"))
        .filter(|id| !EVENT_RULES.iter().any(|r| r.id == *id))
        .collect();
    assert!(stale.is_empty(), "descriptions of no rule: {stale:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_event_category_is_in_the_catalogues_with_its_label_in_english() {
    for cat in dossier_analyzers::events::Category::ALL {
        let id = catalog(Lang::En)
            .ids()
            .filter(|id| id.starts_with("events.category."))
            .find(|id| catalog(Lang::En).get(id) == Some(cat.label()))
            .unwrap_or_else(|| panic!("no events.category.* for {:?}", cat.label()));
        assert!(catalog(Lang::ZhCn).get(id).is_some(), "zh-CN: no {id}");
    }
}
