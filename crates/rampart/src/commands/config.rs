//! `rampart config check FILE`: compile a configuration and print every error with its
//! key path; exit 1 when there is any.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rampart_config::Config;

pub(crate) fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match Config::load(path) {
        Ok(config) => {
            writeln!(
                std::io::stdout(),
                "{}: ok ({} provider(s), {} model route(s), listen {})",
                path.display(),
                config.providers.len(),
                config.models.len(),
                config.server.listen
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "{}: {} error(s)", path.display(), errors.0.len())?;
            for error in &errors.0 {
                writeln!(err, "  {error}")?;
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
