//! Built-in reporters: host and fleet Markdown, findings JSON.
//! (Nothing is built in yet: reports land with the analysis issue.)
