//! Placeholder labels and the placeholder grammar: which short type label an entity
//! gets (`EMAIL_ADDRESS` → `EMAIL`), and how a `[LABEL_N]` token is written and parsed.

use std::borrow::Cow;

use crate::Family;

/// Longest label, in bytes; longer fallback labels are truncated.
pub(crate) const MAX_LABEL_LEN: usize = 24;

/// Longest placeholder body (between the brackets): label, `_`, up to 10 digits of a `u32`.
pub(crate) const MAX_TOKEN_LEN: usize = MAX_LABEL_LEN + 1 + 10;

/// The placeholder label for a finding: a short type name for the known PII entities,
/// `SECRET` for every credential (the kind itself is not worth telling the provider),
/// otherwise the entity sanitized to `[A-Z0-9_]`, at most 24 bytes, `PII`
/// when nothing usable remains.
pub fn label_for(family: Family, entity: &'static str) -> Cow<'static, str> {
    if family == Family::Secrets {
        return Cow::Borrowed("SECRET");
    }
    let known = match entity {
        "EMAIL_ADDRESS" => "EMAIL",
        "PHONE_NUMBER" => "PHONE",
        "CREDIT_CARD" => "CARD",
        "IBAN_CODE" => "IBAN",
        "US_SSN" => "SSN",
        "IP_ADDRESS" => "IP",
        "DATE_TIME" => "DATE",
        "US_DRIVER_LICENSE" => "LICENSE",
        "US_PASSPORT" => "PASSPORT",
        "STREET_ADDRESS" => "ADDRESS",
        "ZIP_CODE" => "ZIP",
        "DOMAIN_NAME" => "URL",
        "PERSON" => "NAME",
        _ => return sanitize(entity),
    };
    Cow::Borrowed(known)
}

/// Whether `b` may appear between a placeholder's brackets.
#[inline]
pub(crate) const fn is_token_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

fn is_valid_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL_LEN && !s.starts_with('_') && s.bytes().all(is_token_byte)
}

/// `entity` when it already is a valid label, else an uppercased copy with every other
/// byte turned into `_`, runs of `_` collapsed, no leading or trailing `_`, truncated.
fn sanitize(entity: &'static str) -> Cow<'static, str> {
    if is_valid_label(entity) {
        return Cow::Borrowed(entity);
    }
    let mut out = String::with_capacity(entity.len().min(MAX_LABEL_LEN));
    for b in entity.bytes() {
        let c = b.to_ascii_uppercase();
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            if out.len() == MAX_LABEL_LEN {
                break;
            }
            out.push(char::from(c));
        } else if !out.is_empty() && !out.ends_with('_') {
            if out.len() + 1 >= MAX_LABEL_LEN {
                break;
            }
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() { Cow::Borrowed("PII") } else { Cow::Owned(out) }
}

/// Appends `[label_n]` to `out`.
pub(crate) fn write_placeholder(out: &mut String, label: &str, n: u32) {
    out.push('[');
    out.push_str(label);
    out.push('_');
    push_u32(out, n);
    out.push(']');
}

/// Decimal digits of `n`.
pub(crate) const fn digits(mut n: u32) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn push_u32(out: &mut String, n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            // n % 10 < 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &b in buf.get(i..).unwrap_or_default() {
        out.push(char::from(b));
    }
}

/// Splits a placeholder body (`EMAIL_12`, without brackets) into label and number.
/// The number is decimal without a leading zero and at least 1.
pub(crate) fn parse_token(token: &[u8]) -> Option<(&[u8], u32)> {
    let us = memchr::memrchr(b'_', token)?;
    let label = token.get(..us)?;
    let num = token.get(us + 1..)?;
    if label.is_empty() || num.is_empty() || num.len() > 10 || num.first() == Some(&b'0') {
        return None;
    }
    let mut n: u32 = 0;
    for &b in num {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some((label, n))
}
