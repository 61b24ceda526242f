//! Tests of the catalogues (every language complete and consistent with English) and of
//! template rendering.

use super::*;

#[test]
fn every_catalogue_parses() {
    for lang in Lang::ALL {
        let c = load(lang).unwrap();
        assert!(c.ids().count() > 0, "{lang}");
    }
}

#[test]
fn every_language_has_every_english_id_with_the_same_arguments() {
    let en = catalog(Lang::En);
    for lang in Lang::ALL {
        let c = catalog(lang);
        let mut problems = vec![];
        for id in en.ids() {
            match c.get(id) {
                None => problems.push(format!("{lang}: missing {id}")),
                Some(t) if t.trim().is_empty() => problems.push(format!("{lang}: empty {id}")),
                Some(t) => {
                    let (want, got) = (placeholders(en.text(id)), placeholders(t));
                    if want != got {
                        problems.push(format!("{lang}: {id} has {got:?}, English {want:?}"));
                    }
                }
            }
        }
        for id in c.ids() {
            if en.get(id).is_none() {
                problems.push(format!("{lang}: {id} is not in English"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
fn languages_parse_from_common_spellings() {
    assert_eq!(Lang::parse("en").unwrap(), Lang::En);
    assert_eq!(Lang::parse("en-US").unwrap(), Lang::En);
    assert_eq!(Lang::parse("zh-CN").unwrap(), Lang::ZhCn);
    assert_eq!(Lang::parse("zh_cn").unwrap(), Lang::ZhCn);
    assert_eq!(Lang::parse("ZH").unwrap(), Lang::ZhCn);
    let e = Lang::parse("fr").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown report language \"fr\": use one of en, zh-CN"
    );
}

#[test]
fn templates_fill_arguments_and_keep_literal_braces_and_unknown_names() {
    assert_eq!(
        fill("{a} runs {b} {{x}} {c} }", |n| match n {
            "a" => Some("cron".into()),
            "b" => Some("/tmp/{x}".into()),
            _ => None,
        }),
        "cron runs /tmp/{x} {x} {c} }"
    );
    assert_eq!(fill("unclosed {a", |_| Some("X".into())), "unclosed {a");
    assert_eq!(
        placeholders("{b} and {a} and {{c}} and {a}"),
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn messages_render_nested_arguments_and_lists_in_the_language() {
    let m = Message::new("list.separator");
    assert_eq!(catalog(Lang::En).render(&m), "; ");
    assert_eq!(catalog(Lang::ZhCn).render(&m), "；");
    // An id no catalogue knows renders as itself (a plugin's message), in every language.
    let unknown = Message::new("plugin.example.unknown").text("x", 1);
    assert_eq!(
        catalog(Lang::ZhCn).render(&unknown),
        "plugin.example.unknown"
    );
}

#[test]
fn format_falls_back_to_english_then_to_the_id() {
    let zh = catalog(Lang::ZhCn);
    assert_eq!(zh.text("no.such.id"), "no.such.id");
    assert_eq!(zh.format("no.such.{x}", &[("x", &1)]), "no.such.1");
}
