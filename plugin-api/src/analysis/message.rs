//! Catalogue messages: a sentence of a report named by an id with named arguments, so a
//! reporter can render it in the responder's language (`dossier-i18n` holds the catalogues).
//! A finding keeps its English sentence in `explanation` too, so readers of `findings.json`
//! and plugins that know nothing of catalogues keep working.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A message of the catalogue: its id (`finding.cron.runs-from`) and its arguments by name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Arg>,
}

/// One argument of a [`Message`]: text kept as it is (a path, a name, a number), a nested
/// message (a reason inside an explanation), or a list of either (joined by the language's
/// list separator).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    List(Vec<Arg>),
    Message(Message),
}

impl Message {
    /// A message without arguments.
    pub fn new(id: impl Into<String>) -> Message {
        Message {
            id: id.into(),
            args: BTreeMap::new(),
        }
    }

    /// Adds a text argument (kept verbatim in every language).
    pub fn text(mut self, name: &str, value: impl ToString) -> Message {
        self.args
            .insert(name.to_string(), Arg::Text(value.to_string()));
        self
    }

    /// Adds a nested message argument (rendered in the report's language).
    pub fn msg(mut self, name: &str, value: Message) -> Message {
        self.args.insert(name.to_string(), Arg::Message(value));
        self
    }

    /// Adds a list argument.
    pub fn list(mut self, name: &str, values: Vec<Arg>) -> Message {
        self.args.insert(name.to_string(), Arg::List(values));
        self
    }
}

impl From<Message> for Arg {
    fn from(m: Message) -> Arg {
        Arg::Message(m)
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_with_nested_and_list_arguments() {
        let m = Message::new("finding.cron.runs")
            .text("src", "/etc/cron.d/x")
            .text("line", 3)
            .msg("why", Message::new("reason.tmp").text("path", "/tmp/a"))
            .list(
                "more",
                vec!["a".into(), Message::new("reason.hidden").into()],
            );
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(
            j,
            r#"{"id":"finding.cron.runs","args":{"line":"3","more":["a",{"id":"reason.hidden"}],"src":"/etc/cron.d/x","why":{"id":"reason.tmp","args":{"path":"/tmp/a"}}}}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&j).unwrap(), m);
    }
}
