//! Input checks run before any query: identifier shapes, label lengths and characters,
//! pattern and metadata limits. Identifiers of the wrong shape never reach the
//! database (lookups answer "not found" instead); other bad input is a
//! [`StoreError::Invalid`] naming the field, never echoing a secret.

use crate::store::StoreError;

/// Longest name, owner, role, team, username or other label, in characters.
pub const MAX_LABEL_CHARS: usize = 128;
/// Most patterns (models or endpoints) or networks in one key.
pub const MAX_PATTERNS: usize = 64;
/// Longest pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 256;
/// Largest metadata object, serialized as JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// Largest sealed credential or TOTP secret text, in bytes.
pub const MAX_SEALED_BYTES: usize = 64 * 1024;
/// Characters of random base62 after an identifier's prefix (`key_`, `team_`, ...).
pub const ID_CHARS: usize = 16;

/// Whether `text` is `prefix` followed by exactly [`ID_CHARS`] base62 characters.
pub(crate) fn is_id(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == ID_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn invalid(message: String) -> StoreError {
    StoreError::Invalid(message)
}

/// 1..=[`MAX_LABEL_CHARS`] characters, none of them control characters (so no NUL,
/// which PostgreSQL text cannot hold, and no line breaks to forge log lines).
pub(crate) fn label(field: &str, text: &str) -> Result<(), StoreError> {
    if text.is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if text.chars().count() > MAX_LABEL_CHARS {
        return Err(invalid(format!("{field} is longer than {MAX_LABEL_CHARS} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// [`label`] when present.
pub(crate) fn optional_label(field: &str, text: Option<&str>) -> Result<(), StoreError> {
    text.map_or(Ok(()), |text| label(field, text))
}

/// At most [`MAX_PATTERNS`] patterns of 1..=[`MAX_PATTERN_CHARS`] characters without
/// control characters; `paths` additionally requires `*` or a leading `/`.
pub(crate) fn patterns(field: &str, patterns: &[String], paths: bool) -> Result<(), StoreError> {
    if patterns.len() > MAX_PATTERNS {
        return Err(invalid(format!("{field}: at most {MAX_PATTERNS} patterns")));
    }
    for pattern in patterns {
        if pattern.is_empty() || pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(invalid(format!("{field}: every pattern has 1 to {MAX_PATTERN_CHARS} characters")));
        }
        if pattern.chars().any(char::is_control) {
            return Err(invalid(format!("{field}: patterns must not contain control characters")));
        }
        if paths && pattern != "*" && !pattern.starts_with('/') {
            return Err(invalid(format!("{field}: a pattern is `*` or starts with `/`")));
        }
    }
    Ok(())
}

/// The stored form of a metadata object, at most [`MAX_METADATA_BYTES`].
pub(crate) fn metadata(
    field: &str,
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<String>, StoreError> {
    let Some(metadata) = metadata else { return Ok(None) };
    let text = serde_json::to_string(metadata).map_err(|e| invalid(format!("{field}: {e}")))?;
    if text.len() > MAX_METADATA_BYTES {
        return Err(invalid(format!("{field} is larger than {MAX_METADATA_BYTES} bytes as JSON")));
    }
    Ok(Some(text))
}

/// Opaque sealed text (ciphertext made by the caller): 1..=[`MAX_SEALED_BYTES`] bytes,
/// no control characters. Never echoed.
pub(crate) fn sealed(field: &str, text: &str) -> Result<(), StoreError> {
    if text.is_empty() || text.len() > MAX_SEALED_BYTES {
        return Err(invalid(format!("{field} must have 1 to {MAX_SEALED_BYTES} bytes")));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must not contain control characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_have_the_exact_shape() {
        assert!(is_id("key_", "key_0123456789abcdEF"));
        for bad in [
            "",
            "key_",
            "key_0123456789abcde",
            "key_0123456789abcdEFG",
            "key_0123456789abcd-F",
            "KEY_0123456789abcdEF",
            "' OR '1'='1",
            "key_0123456789abcd\0F",
            "key_0123456789abcdé",
        ] {
            assert!(!is_id("key_", bad), "{bad:?}");
        }
        assert!(!is_id("key_", &"key_".repeat(25_000)));
    }

    #[test]
    fn labels_are_bounded_and_printable() {
        assert!(label("name", "x'); DROP TABLE virtual_keys; --").is_ok());
        assert!(label("name", &"é".repeat(MAX_LABEL_CHARS)).is_ok());
        assert!(label("name", &"é".repeat(MAX_LABEL_CHARS + 1)).is_err());
        for bad in ["", "a\0b", "line\nbreak", "\u{7f}", "tab\there"] {
            assert!(matches!(label("name", bad), Err(StoreError::Invalid(m)) if m.starts_with("name")), "{bad:?}");
        }
    }

    #[test]
    fn patterns_and_metadata_have_limits() {
        let many = vec!["a".to_owned(); MAX_PATTERNS + 1];
        assert!(patterns("models", &many, false).is_err());
        assert!(patterns("models", &many[..MAX_PATTERNS], false).is_ok());
        assert!(patterns("models", &["a".repeat(MAX_PATTERN_CHARS + 1)], false).is_err());
        assert!(patterns("models", &[String::new()], false).is_err());
        assert!(patterns("endpoints", &["v1/*".into()], true).is_err());
        assert!(patterns("endpoints", &["*".into(), "/v1/*".into()], true).is_ok());
        let mut big = serde_json::Map::new();
        big.insert("k".into(), serde_json::Value::String("v".repeat(MAX_METADATA_BYTES)));
        assert!(metadata("metadata", Some(&big)).is_err());
        assert_eq!(metadata("metadata", None).unwrap(), None);
    }
}
