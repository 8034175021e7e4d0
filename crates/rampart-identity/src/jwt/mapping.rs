//! Claim mapping: turning a validated token's claims into the rampart identity it acts
//! as (subject, team, role, policy).
//!
//! Group rules come first: the first rule, in configuration order, whose `group` appears
//! in the token's group claim (a string or an array of strings) supplies its team, role
//! and policy. Then each configured direct claim (`team_claim`, `role_claim`,
//! `policy_claim`) that the token carries overrides the corresponding value. Only
//! non-empty strings of at most [`MAX_CLAIM_VALUE_LEN`] bytes count; anything else (numbers,
//! objects, over-long strings) is ignored. Claim names are top-level claims.

use serde_json::Value;

use super::Claims;

/// Longest claim value used for mapping, in bytes.
pub const MAX_CLAIM_VALUE_LEN: usize = 256;

/// One group rule: tokens whose group claim contains `group` get these values.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupRule {
    /// The group name, compared exactly.
    pub group: String,
    /// Team to assign.
    pub team: Option<String>,
    /// Role to assign.
    pub role: Option<String>,
    /// Policy to assign.
    pub policy: Option<String>,
}

/// How an issuer's claims map to a rampart identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// Claim whose string value is the team (overrides group rules).
    pub team_claim: Option<String>,
    /// Claim whose string value is the role (overrides group rules).
    pub role_claim: Option<String>,
    /// Claim whose string value is the policy (overrides group rules).
    pub policy_claim: Option<String>,
    /// Claim holding the token's groups (e.g. `groups`).
    pub group_claim: Option<String>,
    /// Group rules, first match wins.
    pub groups: Vec<GroupRule>,
}

/// The identity a token maps to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedIdentity {
    /// The token's `sub`.
    pub subject: String,
    /// Assigned team, if any.
    pub team: Option<String>,
    /// Assigned role, if any.
    pub role: Option<String>,
    /// Assigned policy, if any.
    pub policy: Option<String>,
}

fn usable(value: &Value) -> Option<&str> {
    value.as_str().filter(|text| !text.is_empty() && text.len() <= MAX_CLAIM_VALUE_LEN)
}

impl ClaimMapping {
    /// Maps validated `claims` to an identity (see the module documentation).
    pub fn map(&self, claims: &Claims) -> MappedIdentity {
        let mut identity = MappedIdentity { subject: claims.sub.clone(), ..MappedIdentity::default() };
        if let Some(rule) = self.matching_rule(claims) {
            identity.team = rule.team.clone();
            identity.role = rule.role.clone();
            identity.policy = rule.policy.clone();
        }
        let direct = |name: &Option<String>| {
            name.as_ref().and_then(|name| claims.raw.get(name)).and_then(usable).map(str::to_owned)
        };
        if let Some(team) = direct(&self.team_claim) {
            identity.team = Some(team);
        }
        if let Some(role) = direct(&self.role_claim) {
            identity.role = Some(role);
        }
        if let Some(policy) = direct(&self.policy_claim) {
            identity.policy = Some(policy);
        }
        identity
    }

    fn matching_rule(&self, claims: &Claims) -> Option<&GroupRule> {
        let value = claims.raw.get(self.group_claim.as_ref()?)?;
        let groups: Vec<&str> = match value {
            Value::Array(items) => items.iter().filter_map(usable).collect(),
            other => usable(other).into_iter().collect(),
        };
        self.groups.iter().find(|rule| groups.contains(&rule.group.as_str()))
    }
}
