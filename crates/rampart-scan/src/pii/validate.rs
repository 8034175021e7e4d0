//! Checksum and range validators for PII candidates. Pure functions over the
//! candidate text; they never see the rest of the input.

use std::net::Ipv6Addr;
use std::str::FromStr;

/// Luhn (mod 10) check over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn prefix_num(digits: &[u8], n: usize) -> u32 {
    digits.iter().take(n).fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// Known issuer (IIN) ranges and their lengths. Maestro and its relatives are the
/// only brands accepted at 12 digits.
pub(crate) fn card_iin_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    let p1 = prefix_num(digits, 1);
    let p2 = prefix_num(digits, 2);
    let p3 = prefix_num(digits, 3);
    let p4 = prefix_num(digits, 4);
    let p6 = prefix_num(digits, 6);
    match p1 {
        // Visa
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard 51-55, Maestro 50 / 56-58
        5 => match p2 {
            51..=55 => len == 16,
            50 | 56..=58 => (12..=19).contains(&len),
            _ => false,
        },
        // Mastercard 2221-2720, Mir 2200-2204, JCB 2131
        2 => {
            ((2221..=2720).contains(&p4) && len == 16)
                || ((2200..=2204).contains(&p4) && (16..=19).contains(&len))
                || (p4 == 2131 && len == 15)
        }
        // Amex 34/37, Diners 300-305/36/38/39, JCB 35xx (3528-3589 today; older
        // issuers and test ranges use the whole 35 block)
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&len))
                || (p2 == 35 && (16..=19).contains(&len))
        }
        // Discover 6011/644-649/65, UnionPay 62, Maestro 6x
        6 => {
            if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
                (16..=19).contains(&len)
            } else if p2 == 62 {
                (16..=19).contains(&len) || (622_126..=622_925).contains(&p6)
            } else {
                (12..=19).contains(&len)
            }
        }
        // JCB 1800
        1 => p4 == 1800 && len == 15,
        _ => false,
    }
}

/// IBAN length per country (SWIFT registry).
pub(crate) fn iban_country_len(cc: &[u8]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    TABLE.iter().find(|(c, _)| c.as_slice() == cc).map(|&(_, l)| l)
}

/// Country code, length table and ISO 7064 mod-97 check. `compact` is the IBAN
/// without separators, any case.
pub(crate) fn iban_ok(compact: &[u8]) -> bool {
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    let upper: Vec<u8> = compact.iter().map(u8::to_ascii_uppercase).collect();
    if iban_country_len(&upper[..2]) != Some(upper.len()) {
        return false;
    }
    if !upper.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in upper[4..].iter().chain(upper[..4].iter()) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000. Also rejects
/// well-known advertising numbers and all-same-digit numbers.
pub(crate) fn ssn_ok(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = prefix_num(d, 3);
    let group = prefix_num(&d[3..], 2);
    let serial = prefix_num(&d[5..], 4);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    if d.iter().all(|&c| c == d[0]) || d == b"123456789" || d == b"078051120" {
        return false;
    }
    true
}

/// Dotted quad with every octet 0..=255 and no leading zeros.
pub(crate) fn ipv4_ok(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return false;
        }
        match part.parse::<u16>() {
            Ok(v) if v <= 255 => {}
            _ => return false,
        }
    }
    n == 4
}

/// std's parser decides; we additionally want at least two non-empty groups so that
/// `::` or `a::` alone do not count.
pub(crate) fn ipv6_ok(s: &str) -> bool {
    if Ipv6Addr::from_str(s).is_err() {
        return false;
    }
    s.split(':').filter(|g| !g.is_empty()).count() >= 2
}

/// Day/month/year plausibility for a date of birth.
pub(crate) fn dmy_ok(day: u32, month: u32, year: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day) && (1900..=2030).contains(&year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
    }

    #[test]
    fn iban_known() {
        assert!(iban_ok(b"GB82WEST12345698765432"));
        assert!(iban_ok(b"DE89370400440532013000"));
        assert!(!iban_ok(b"GB82WEST12345698765433"));
        assert!(!iban_ok(b"XX82WEST12345698765432"));
    }

    #[test]
    fn ssn_ranges() {
        assert!(ssn_ok(b"123456780"));
        assert!(!ssn_ok(b"000121234"));
        assert!(!ssn_ok(b"666121234"));
        assert!(!ssn_ok(b"912121234"));
        assert!(!ssn_ok(b"123001234"));
        assert!(!ssn_ok(b"123450000"));
    }

    #[test]
    fn ip_validators() {
        assert!(ipv4_ok("192.168.0.1"));
        assert!(!ipv4_ok("999.1.1.1"));
        assert!(!ipv4_ok("01.1.1.1"));
        assert!(ipv6_ok("2001:db8::1"));
        assert!(!ipv6_ok("12:30:45"));
        assert!(!ipv6_ok("::"));
    }
}
