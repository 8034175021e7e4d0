//! Client federation: JWT bearer tokens from the `[[auth.oidc]]` issuers, validated by
//! `rampart_identity::jwt` against each issuer's JWKS (fetched here over HTTPS, cached
//! and refreshed there), then mapped to what the caller may do.
//!
//! A token's scope comes from configuration, never from the token alone: the issuer's
//! `models` and `endpoints`, a group rule's team, role, policy and models. With group
//! rules configured (and by default then), a token none of whose groups has a rule is
//! refused. Every failure is a 401 naming the reason class, never the token.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_config::OidcIssuer;
use rampart_identity::jwt::{Alg, BoxFuture, Claims, IssuerConfig, JwksCache, JwksFetcher, JwtError, MAX_JWKS_BYTES};
use rampart_store::{EndpointScope, ModelScope};
use serde_json::Value;

use crate::error::ApiError;

/// Longest wait for an issuer's JWKS document.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest claim value (team, role, group) taken from a token.
const MAX_CLAIM_LEN: usize = 256;

/// What a validated token may do.
#[derive(Debug)]
pub(crate) struct TokenIdentity {
    /// `iss` and `sub`, for logs and the audit trail.
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) team: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) models: ModelScope,
    pub(crate) endpoints: EndpointScope,
}

/// The configured issuers and their key caches.
pub(crate) struct Federation {
    cache: JwksCache,
    issuers: Vec<OidcIssuer>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation").field("issuers", &self.issuers.len()).finish()
    }
}

impl Federation {
    /// `None` when no issuer is configured.
    pub(crate) fn new(issuers: &[OidcIssuer]) -> Result<Option<Self>, String> {
        if issuers.is_empty() {
            return Ok(None);
        }
        let configs = issuers
            .iter()
            .map(|i| {
                let mut config = IssuerConfig::new(i.issuer.clone(), i.audiences.clone(), i.jwks_url.to_string());
                config.algorithms = i.algorithms.iter().filter_map(|a| Alg::from_name(a)).collect();
                config.leeway = i.leeway;
                config
            })
            .collect();
        let max_age = issuers.iter().map(|i| i.jwks_max_age).min().unwrap_or(Duration::from_secs(600));
        let cache = JwksCache::new(configs, Arc::new(HttpsFetcher::new()?))
            .map_err(|error| error.to_string())?
            .with_max_age(max_age);
        Ok(Some(Self { cache, issuers: issuers.to_vec() }))
    }

    /// Validates `token` and maps it to a scope.
    pub(crate) async fn authenticate(&self, token: &str, now: i64) -> Result<TokenIdentity, ApiError> {
        let claims = self.cache.validate(token, now).await.map_err(|error| {
            tracing::info!(reason = ?error, "JWT rejected");
            rejected(&error)
        })?;
        let issuer =
            self.issuers.iter().find(|i| i.issuer == claims.iss).ok_or_else(|| rejected(&JwtError::UnknownIssuer))?;
        map(issuer, &claims)
    }
}

fn rejected(error: &JwtError) -> ApiError {
    let code = match error {
        JwtError::Expired => "token_expired",
        JwtError::NotYetValid | JwtError::IssuedInFuture => "token_not_yet_valid",
        JwtError::UnknownIssuer => "unknown_issuer",
        JwtError::WrongAudience => "wrong_audience",
        JwtError::AlgNotAllowed => "algorithm_not_allowed",
        _ => "invalid_token",
    };
    ApiError::unauthorized(code, "Invalid bearer token.")
}

/// A claim's string values (a string or an array of strings), each bounded.
fn strings<'a>(claims: &'a Claims, name: Option<&str>) -> Vec<&'a str> {
    let usable = |v: &'a Value| v.as_str().filter(|s| !s.is_empty() && s.len() <= MAX_CLAIM_LEN);
    match name.and_then(|n| claims.raw.get(n)) {
        Some(Value::Array(items)) => items.iter().filter_map(usable).collect(),
        Some(other) => usable(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn map(issuer: &OidcIssuer, claims: &Claims) -> Result<TokenIdentity, ApiError> {
    let groups = strings(claims, issuer.groups_claim.as_deref());
    let rule = issuer.groups.iter().find(|rule| groups.contains(&rule.group.as_str()));
    if issuer.require_group && rule.is_none() {
        return Err(ApiError::forbidden("group_not_allowed", "No group of this token is allowed to use this gateway."));
    }
    let direct = |name: &Option<String>| strings(claims, name.as_deref()).first().map(|s| (*s).to_owned());
    let models = rule.and_then(|r| r.models.clone()).unwrap_or_else(|| issuer.models.clone());
    Ok(TokenIdentity {
        issuer: claims.iss.clone(),
        subject: claims.sub.clone(),
        team: direct(&issuer.team_claim).or_else(|| rule.and_then(|r| r.team.clone())),
        role: direct(&issuer.role_claim).or_else(|| rule.and_then(|r| r.role.clone())),
        policy: rule.and_then(|r| r.policy.clone()).or_else(|| issuer.policy.clone()),
        models: ModelScope::new(models),
        endpoints: EndpointScope::new(issuer.endpoints.clone()),
    })
}

/// Fetches JWKS documents over HTTPS (system roots), bounded in time and size.
struct HttpsFetcher {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>,
}

impl HttpsFetcher {
    fn new() -> Result<Self, String> {
        let tls = crate::upstream::client_tls(crate::upstream::native_roots()).map_err(|error| error.to_string())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(FETCH_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(connector) })
    }
}

impl JwksFetcher for HttpsFetcher {
    fn fetch(&self, url: &str) -> BoxFuture<'_, Result<Vec<u8>, String>> {
        let url = url.to_owned();
        Box::pin(async move {
            let uri: http::Uri = url.parse().map_err(|_| "invalid JWKS URL".to_owned())?;
            let request = http::Request::get(uri)
                .header(http::header::ACCEPT, "application/json")
                .body(Empty::new())
                .map_err(|_| "invalid JWKS request".to_owned())?;
            let fetch = async {
                let response = self.client.request(request).await.map_err(|error| format!("JWKS fetch: {error}"))?;
                if !response.status().is_success() {
                    return Err(format!("JWKS fetch: HTTP {}", response.status().as_u16()));
                }
                let body = Limited::new(response.into_body(), MAX_JWKS_BYTES + 1)
                    .collect()
                    .await
                    .map_err(|_| "JWKS document too large or cut short".to_owned())?;
                Ok(body.to_bytes().to_vec())
            };
            tokio::time::timeout(FETCH_TIMEOUT, fetch).await.map_err(|_| "JWKS fetch timed out".to_owned())?
        })
    }
}
