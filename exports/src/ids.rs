//! Deterministic identifiers: UUIDv5 (RFC 9562, SHA-1 name-based) in dossier's own namespace,
//! over the content an identifier stands for, so the same analyses always give the same ids
//! and different content different ids.

use uuid::Uuid;

/// dossier's UUIDv5 namespace (`548bdc8f-b33a-5cf6-a61c-4d309a730772`): UUIDv5 of the URL
/// namespace and `https://dossier.invalid/exports`
/// (fixed: changing it changes every id ever exported).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x548b_dc8f_b33a_5cf6_a61c_4d30_9a73_0772);

/// The UUIDv5 of `content` in [`NAMESPACE`].
pub fn uuid5(content: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, content.as_bytes())
}

/// A STIX identifier: `TYPE--UUIDv5(TYPE + "\n" + content)`.
pub fn stix_id(kind: &str, content: &str) -> String {
    format!("{kind}--{}", uuid5(&format!("{kind}\n{content}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_5_and_depend_on_content_only() {
        let a = uuid5("x");
        assert_eq!(a.get_version_num(), 5);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(a, uuid5("x"));
        assert_ne!(a, uuid5("y"));
        // The namespace is itself a version 5 UUID of the RFC 4122 variant, as the doc says.
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://dossier.invalid/exports")
        );
        let id = stix_id("indicator", "x");
        assert!(id.starts_with("indicator--"), "{id}");
        assert_ne!(id, stix_id("relationship", "x"));
    }
}
