//! What a key may reach besides models: the request paths it may call
//! ([`EndpointScope`]) and the client addresses it may be used from
//! ([`ClientNetworks`]).
//!
//! Both are plain values parsed once when a key row is decoded, so checking a request
//! costs a few comparisons. They report; the gateway decides what to refuse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The endpoints a key may call: glob patterns (`*`, `?`) over request paths, e.g.
/// `/v1/chat/completions` or `/v1/*`. An empty scope allows nothing (default deny);
/// `*` allows every path.
#[derive(Debug, Clone)]
pub struct EndpointScope {
    patterns: Vec<String>,
    compiled: Vec<wildmatch::WildMatch>,
}

impl EndpointScope {
    /// Every endpoint.
    pub fn all() -> Self {
        Self::new(vec!["*".to_owned()])
    }

    /// A scope from glob patterns.
    pub fn new(patterns: Vec<String>) -> Self {
        let compiled = patterns.iter().map(|p| wildmatch::WildMatch::new(p)).collect();
        Self { patterns, compiled }
    }

    /// Whether `path` (the request path, without query string) matches one of the
    /// patterns. Unless the scope is unrestricted, a path that is not in normal form
    /// (not starting with `/`, or with an empty, `.` or `..` segment, a `%` escape, a
    /// backslash or a control character) is refused: a glob like `/v1/chat/*` must not
    /// admit `/v1/chat/../files` because an upstream would normalize it.
    pub fn allows(&self, path: &str) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        is_normal_path(path) && self.compiled.iter().any(|p| p.matches(path))
    }

    /// Whether every endpoint is allowed (the scope contains `*`).
    pub fn is_unrestricted(&self) -> bool {
        self.patterns.iter().any(|p| p == "*")
    }

    /// The patterns as configured.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

fn is_normal_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    if path.bytes().any(|b| b.is_ascii_control() || b == b'%' || b == b'\\') {
        return false;
    }
    // "/" alone is fine; otherwise no segment may be empty (except a trailing slash),
    // "." or "..".
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.is_empty() || rest.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// One network: an address and a prefix length, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// An IPv4 network.
    V4(Ipv4Addr, u8),
    /// An IPv6 network.
    V6(Ipv6Addr, u8),
}

impl Network {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a single address (`/32` or `/128`).
    /// Host bits must be zero (`10.0.0.1/8` is refused: say `10.0.0.0/8`), and an
    /// IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is read as its IPv4 network.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = shown(text);
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => {
                if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{shown} has no valid prefix length"));
                }
                (address, Some(prefix.parse::<u8>().map_err(|_| format!("{shown} has no valid prefix length"))?))
            }
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| format!("{shown} is not an IP address or CIDR"))?;
        let network = match address {
            IpAddr::V4(v4) => {
                let prefix = prefix.unwrap_or(32);
                if prefix > 32 {
                    return Err(format!("{shown}: an IPv4 prefix is at most 32"));
                }
                Self::V4(v4, prefix)
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                if prefix > 128 {
                    return Err(format!("{shown}: an IPv6 prefix is at most 128"));
                }
                match v6.to_ipv4_mapped() {
                    Some(v4) if prefix >= 96 => Self::V4(v4, prefix - 96),
                    _ => Self::V6(v6, prefix),
                }
            }
        };
        if network.masked() != network {
            return Err(format!("{shown} has host bits set (did you mean {}?)", network.masked()));
        }
        Ok(network)
    }

    fn masked(self) -> Self {
        match self {
            Self::V4(address, prefix) => Self::V4(Ipv4Addr::from(u32::from(address) & mask32(prefix)), prefix),
            Self::V6(address, prefix) => Self::V6(Ipv6Addr::from(u128::from(address) & mask128(prefix)), prefix),
        }
    }

    /// Whether `address` is in this network (IPv4-mapped IPv6 addresses count as
    /// their IPv4 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self, canonical(address)) {
            (Self::V4(network, prefix), IpAddr::V4(v4)) => u32::from(v4) & mask32(*prefix) == u32::from(*network),
            (Self::V6(network, prefix), IpAddr::V6(v6)) => u128::from(v6) & mask128(*prefix) == u128::from(*network),
            _ => false,
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(address, prefix) => write!(f, "{address}/{prefix}"),
            Self::V6(address, prefix) => write!(f, "{address}/{prefix}"),
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// At most 64 characters of untrusted text, escaped, for error messages.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    if cut.len() < text.len() { format!("{cut:?}...") } else { format!("{cut:?}") }
}

/// The client networks a key may be used from. An empty list allows every address
/// (unlike the other scopes: addresses are an extra restriction, not a grant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientNetworks {
    networks: Vec<Network>,
}

impl ClientNetworks {
    /// Any address.
    pub fn any() -> Self {
        Self::default()
    }

    /// Parses every entry (see [`Network::parse`]); the first bad one is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let networks = entries.iter().map(|e| Network::parse(e.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// From already parsed networks.
    pub fn new(networks: Vec<Network>) -> Self {
        Self { networks }
    }

    /// Whether a client at `address` may use the key.
    pub fn allows(&self, address: IpAddr) -> bool {
        self.networks.is_empty() || self.networks.iter().any(|n| n.contains(address))
    }

    /// Whether every address is allowed (no networks listed).
    pub fn is_any(&self) -> bool {
        self.networks.is_empty()
    }

    /// The networks.
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// The networks in their canonical text form (the stored form).
    pub fn to_strings(&self) -> Vec<String> {
        self.networks.iter().map(Network::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn endpoint_scopes_match_globs_default_deny_and_refuse_odd_paths() {
        let scope = EndpointScope::new(vec!["/v1/chat/*".into(), "/v1/embeddings".into()]);
        assert!(scope.allows("/v1/chat/completions"));
        assert!(scope.allows("/v1/embeddings"));
        assert!(!scope.allows("/v1/embeddings/x"));
        assert!(!scope.allows("/v1/files"));
        for sneaky in [
            "/v1/chat/../files",
            "/v1/chat/./completions",
            "/v1/chat//completions",
            "/v1/chat/%2e%2e/files",
            "/v1/chat/completions\0",
            "/v1/chat/..\\files",
            "v1/chat/completions",
            "",
        ] {
            assert!(!scope.allows(sneaky), "{sneaky:?}");
        }
        assert!(scope.allows("/v1/chat/completions/"));
        assert!(!EndpointScope::new(vec![]).allows("/v1/chat/completions"));
        assert!(EndpointScope::all().allows("/v1/anything/../at/all"));
        assert!(EndpointScope::all().is_unrestricted());
        assert!(!scope.is_unrestricted());
    }

    #[test]
    fn networks_parse_cidrs_and_single_addresses() {
        let nets = ClientNetworks::parse(&["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]).unwrap();
        assert_eq!(nets.to_strings(), ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "::1/128"]);
        assert!(nets.allows(ip("10.255.0.1")));
        assert!(nets.allows(ip("192.168.1.7")));
        assert!(!nets.allows(ip("192.168.1.8")));
        assert!(!nets.allows(ip("11.0.0.1")));
        assert!(nets.allows(ip("2001:db8:ffff::1")));
        assert!(!nets.allows(ip("2001:db9::1")));
        assert!(nets.allows(ip("::1")));
        assert!(!nets.allows(ip("::2")));
        // IPv4-mapped IPv6 clients are their IPv4 address, both ways.
        assert!(nets.allows(ip("::ffff:10.1.2.3")));
        assert!(!nets.allows(ip("::ffff:11.1.2.3")));
        let mapped = ClientNetworks::parse(&["::ffff:172.16.0.0/108"]).unwrap();
        assert_eq!(mapped.to_strings(), ["172.16.0.0/12"]);
        assert!(mapped.allows(ip("172.31.0.1")));
        assert!(mapped.allows(ip("::ffff:172.31.0.1")));
        // Zero-length prefixes: everything of that family.
        let all4 = ClientNetworks::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all4.allows(ip("8.8.8.8")));
        assert!(!all4.allows(ip("2001:db8::1")));
        assert!(ClientNetworks::parse(&["::/0"]).unwrap().allows(ip("2001:db8::1")));
    }

    #[test]
    fn an_empty_network_list_allows_every_address() {
        let any = ClientNetworks::any();
        assert!(any.is_any());
        assert!(any.allows(ip("203.0.113.9")));
        assert!(any.allows(ip("2001:db8::1")));
        assert!(ClientNetworks::parse::<&str>(&[]).unwrap().is_any());
    }

    #[test]
    fn malformed_networks_are_refused_with_the_entry_named() {
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "010.0.0.1",
            "10.0.0",
            "2001:db8::1/32",
            "2001:db8::/129",
            "' OR '1'='1",
            "10.0.0.0/8\0",
            "",
            "/8",
        ] {
            let error = ClientNetworks::parse(&[bad]).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{bad:?}: {error}");
        }
        let long = "1".repeat(100_000);
        assert!(ClientNetworks::parse(&[long.as_str()]).unwrap_err().len() < 200);
        assert!(ClientNetworks::parse(&["10.0.0.1/8"]).unwrap_err().contains("10.0.0.0/8"));
    }
}
