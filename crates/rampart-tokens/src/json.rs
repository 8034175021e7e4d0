//! Borrowed JSON pieces shared by the request and usage parsers: strings that borrow
//! from the body unless they hold escapes, values kept as their raw JSON text, and
//! lenient non-negative counts. Nothing here re-encodes JSON.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Deserialize)]
pub(crate) struct Str<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// For `#[serde(default, deserialize_with = "present")]`: a field that is there, even as
/// `null` (which plain `Option` folds into absence), kept as raw JSON.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// The kind of a raw JSON value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Array,
    Object,
    Null,
    /// A number or a boolean.
    Scalar,
}

pub(crate) fn kind(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        Some(b'n') => Kind::Null,
        _ => Kind::Scalar,
    }
}

/// The string a raw JSON value holds, if it is one.
pub(crate) fn as_str<'a>(raw: &'a RawValue) -> Option<Cow<'a, str>> {
    if kind(raw) != Kind::String {
        return None;
    }
    serde_json::from_str::<Str<'a>>(raw.get()).ok().map(|s| s.0)
}

/// The elements of a raw JSON array (`None` if it is not one).
pub(crate) fn elements(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if kind(raw) != Kind::Array {
        return None;
    }
    serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()
}

/// A non-negative count such as `max_tokens` or `n`: an integer as it is, a non-negative
/// fraction rounded up, anything beyond `u64` saturated (a larger cap is the cautious
/// reading). Negative numbers and non-numbers are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count(pub(crate) u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v).map(Count).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                if v.is_finite() && v >= 0.0 {
                    // `as` saturates at u64::MAX.
                    Ok(Count(v.ceil() as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(CountVisitor)
    }
}

/// A raw field parsed as an optional count (`null` is `None`).
pub(crate) fn count(raw: &RawValue) -> Result<Option<u64>, serde_json::Error> {
    let mut d = serde_json::Deserializer::from_str(raw.get());
    let parsed = Option::<Count>::deserialize(&mut d)?;
    Ok(parsed.map(|c| c.0))
}

/// One token id of a token array: any JSON number (its value does not matter to a count).
pub(crate) struct TokenId;

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = TokenId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token id")
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TokenId, E> {
                Ok(TokenId)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TokenId, E> {
                Ok(TokenId)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TokenId, E> {
                Ok(TokenId)
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// The length of a raw JSON array of token ids (numbers), or the error if it is not one.
pub(crate) fn token_array_len(raw: &RawValue) -> Result<u64, serde_json::Error> {
    // A vector of a zero-sized type never allocates.
    serde_json::from_str::<Vec<TokenId>>(raw.get()).map(|ids| ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> &RawValue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        assert!(matches!(as_str(raw(r#""plain""#)), Some(Cow::Borrowed("plain"))));
        assert!(matches!(as_str(raw(r#""a\nb""#)), Some(Cow::Owned(s)) if s == "a\nb"));
        assert!(as_str(raw("12")).is_none());
    }

    #[test]
    fn counts_are_lenient_but_never_negative() {
        assert_eq!(count(raw("100")).unwrap(), Some(100));
        assert_eq!(count(raw("null")).unwrap(), None);
        assert_eq!(count(raw("1.2")).unwrap(), Some(2));
        assert_eq!(count(raw("1e30")).unwrap(), Some(u64::MAX));
        assert_eq!(count(raw("123456789012345678901234567890")).unwrap(), Some(u64::MAX));
        assert!(count(raw("-1")).is_err());
        assert!(count(raw("-0.5")).is_err());
        assert!(count(raw(r#""100""#)).is_err());
        assert!(count(raw("true")).is_err());
        assert!(count(raw("[1]")).is_err());
    }

    #[test]
    fn token_arrays() {
        assert_eq!(token_array_len(raw("[1, 2, 3]")).unwrap(), 3);
        assert_eq!(token_array_len(raw("[]")).unwrap(), 0);
        assert!(token_array_len(raw(r#"[1, "a"]"#)).is_err());
        assert!(token_array_len(raw("[[1]]")).is_err());
    }
}
