//! A virtual key's resource limits as stored: requests and tokens per minute,
//! concurrent requests, spend budgets per UTC day and month (micro-USD), a cap on
//! `max_tokens`, and the key's priority class. Plain data, validated before any write;
//! enforcing them is the gateway's (`rampart-limits`). Stored as one JSON text column,
//! so adding a limit later needs no migration; a key without limits stores `NULL`.

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The largest value any limit may take: far beyond any real quota, and small enough
/// that sums of a few never overflow an `i64` column or a `u64` counter.
pub const MAX_LIMIT: u64 = 1 << 50;

/// A key's priority class under load: lower classes are refused first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Served until the gateway is at full capacity.
    Critical,
    /// The default.
    #[default]
    Standard,
    /// Refused first when the gateway approaches capacity.
    Batch,
}

impl Priority {
    /// Parses `critical`, `standard` or `batch`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "critical" => Some(Self::Critical),
            "standard" => Some(Self::Standard),
            "batch" => Some(Self::Batch),
            _ => None,
        }
    }

    /// The name, as parsed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Standard => "standard",
            Self::Batch => "batch",
        }
    }
}

/// A key's limits; `None` everywhere (the default) means only the team, model and
/// global limits of the configuration apply. Stored members this version does not
/// know are ignored, so a row written by a newer instance stays readable during a
/// rolling upgrade (inputs are checked strictly where they enter: CLI flags, the admin
/// API's own body type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Spend per UTC day, micro-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget_micros: Option<u64>,
    /// Spend per UTC month, micro-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget_micros: Option<u64>,
    /// The most completion tokens one request may ask for; a larger `max_tokens` is
    /// refused, a missing one is set to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Priority class (`None`: standard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

impl KeyLimits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every value: each set limit is at least 1 and at most [`MAX_LIMIT`]
    /// (a zero limit would refuse everything: revoke the key instead).
    pub fn validate(&self) -> Result<(), StoreError> {
        let checks = [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("max_concurrency", self.max_concurrency.map(u64::from)),
            ("daily_budget", self.daily_budget_micros),
            ("monthly_budget", self.monthly_budget_micros),
            ("max_tokens", self.max_tokens),
        ];
        for (name, value) in checks {
            match value {
                Some(0) => return Err(StoreError::Invalid(format!("{name}: must be at least 1"))),
                Some(v) if v > MAX_LIMIT => {
                    return Err(StoreError::Invalid(format!("{name}: must be at most {MAX_LIMIT}")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// As shown to operators (CLI, admin API): budgets in dollars as exact decimal
    /// strings, the priority class by name.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_concurrency": self.max_concurrency,
            "daily_budget_usd": self.daily_budget_micros.map(format_usd),
            "monthly_budget_usd": self.monthly_budget_micros.map(format_usd),
            "max_tokens": self.max_tokens,
            "priority": self.priority.unwrap_or_default().as_str(),
        })
    }

    /// The stored form: `None` for no limits.
    pub(crate) fn to_column(self) -> Result<Option<String>, StoreError> {
        if self.is_empty() {
            return Ok(None);
        }
        serde_json::to_string(&self).map(Some).map_err(|error| StoreError::Invalid(format!("limits: {error}")))
    }
}

/// Parses a dollar amount (`"5"`, `"0.25"`, `"12.345678"`) into micro-USD, exactly:
/// no floating point, at most six decimals, at least one micro-dollar.
pub fn parse_usd(text: &str) -> Result<u64, String> {
    let text = text.trim().trim_start_matches('$');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) || whole.is_empty() && digits(frac)) || !(frac.is_empty() || digits(frac)) {
        return Err(format!("`{text}` is not an amount in dollars (e.g. 5 or 0.25)"));
    }
    if frac.len() > 6 {
        return Err(format!("`{text}`: at most six decimals (micro-dollars)"));
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("`{text}` is too large"))? };
    let mut micros_frac: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| format!("`{text}`"))? };
    for _ in frac.len()..6 {
        micros_frac *= 10;
    }
    let micros = whole.checked_mul(1_000_000).and_then(|w| w.checked_add(micros_frac));
    match micros {
        Some(0) => Err("must be greater than zero".into()),
        Some(m) if m <= MAX_LIMIT => Ok(m),
        _ => Err(format!("`{text}` is too large")),
    }
}

/// Formats micro-USD as dollars with the decimals it needs (`5`, `0.25`).
pub fn format_usd(micros: u64) -> String {
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_parse_exactly() {
        assert_eq!(parse_usd("5"), Ok(5_000_000));
        assert_eq!(parse_usd("0.25"), Ok(250_000));
        assert_eq!(parse_usd(".5"), Ok(500_000));
        assert_eq!(parse_usd("$12.345678"), Ok(12_345_678));
        assert_eq!(parse_usd("0.000001"), Ok(1));
        for bad in ["", "0", "0.0", "-1", "1e3", "1.2.3", "abc", "1.0000001", "99999999999999999999", "1,5", "."] {
            assert!(parse_usd(bad).is_err(), "{bad}");
        }
        assert!(parse_usd(&format!("{}", MAX_LIMIT / 1_000_000 + 1)).is_err());
    }

    #[test]
    fn dollars_format_round_trip() {
        for micros in [1, 250_000, 5_000_000, 12_345_678, 1_000_001] {
            assert_eq!(parse_usd(&format_usd(micros)), Ok(micros));
        }
        assert_eq!(format_usd(250_000), "0.25");
    }

    #[test]
    fn limits_validate_and_store() {
        let none = KeyLimits::default();
        assert!(none.validate().is_ok());
        assert_eq!(none.to_column().unwrap(), None);
        let some = KeyLimits { rpm: Some(60), priority: Some(Priority::Batch), ..KeyLimits::default() };
        assert_eq!(some.to_column().unwrap().as_deref(), Some(r#"{"rpm":60,"priority":"batch"}"#));
        assert!(KeyLimits { tpm: Some(0), ..none }.validate().is_err());
        assert!(KeyLimits { max_concurrency: Some(0), ..none }.validate().is_err());
        assert!(KeyLimits { daily_budget_micros: Some(MAX_LIMIT + 1), ..none }.validate().is_err());
        let back: KeyLimits = serde_json::from_str(r#"{"rpm":60,"priority":"batch"}"#).unwrap();
        assert_eq!(back, some);
        let newer: KeyLimits = serde_json::from_str(r#"{"rpm":60,"priority":"batch","later":1}"#).unwrap();
        assert_eq!(newer, some, "members of a newer version are ignored");
        assert_eq!(Priority::parse("critical"), Some(Priority::Critical));
        assert_eq!(Priority::parse("high"), None);
    }
}
