//! Integration tests: a real rampart on `127.0.0.1:0` in front of a real recording mock
//! provider, driven over real HTTP. One binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod audit;
mod auth;
mod bad_input;
mod concurrency;
mod failures;
mod hardening;
mod identity;
mod inspection;
mod limits;
mod proxy;
mod sdk;
mod shutdown;
mod streaming;
mod tls;
