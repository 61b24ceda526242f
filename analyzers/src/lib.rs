//! Built-in analyzers: the rule engine, rules, scoring and verdicts over bundle records.
//! (Nothing is built in yet: analysis lands with the analysis issue.)
