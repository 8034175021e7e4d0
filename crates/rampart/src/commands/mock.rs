//! `rampart mock --listen ADDR`: the built-in mock provider on its own, for load tests
//! and local development. Records nothing, so it stays fast and bounded.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use rampart_mock::MockOptions;

pub(crate) async fn run(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    writeln!(std::io::stdout(), "rampart mock provider on http://{addr}/v1")?;
    let router = rampart_mock::router(&MockOptions::default(), None);
    tokio::select! {
        result = rampart_mock::serve(listener, router) => result?,
        () = super::shutdown_signal() => {}
    }
    Ok(ExitCode::SUCCESS)
}
