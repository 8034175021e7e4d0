//! rampart's data plane: the listener, the request pipeline, the OpenAI-compatible
//! routes and the upstream client.
//!
//! Owns HTTP: accepting connections, authenticating virtual keys against the store,
//! routing models to providers, swapping credentials, relaying responses (streams chunk
//! by chunk), and turning every failure into an OpenAI-shaped error. Does not own
//! detection logic, configuration parsing or storage internals; those are the `scan`,
//! `config` and `store` crates. The pipeline order lives in [`pipeline`].

mod admin;
mod admission;
mod auth;
mod body;
mod credentials;
mod error;
mod inspect;
mod json;
mod meter;
mod monitor;
mod observe;
mod oidc;
pub mod pipeline;
mod routes;
mod server;
mod state;
mod upstream;

pub use auth::Principal;
pub use error::{ApiError, Side};
pub use monitor::{MonitorSetupError, audit_signer, open_audit_store, open_audit_store_of};
pub use observe::RequestId;
pub use server::{Gateway, GatewayError, RunningGateway, ShutdownTrigger};
pub use upstream::UpstreamSetupError;
