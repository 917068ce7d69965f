//! One module per subcommand; each returns the process exit code.

pub mod assets;
pub mod check;
pub mod diagnose;
pub mod history;
pub mod login;
pub mod parse;
pub mod run;
pub mod status;

/// The state, opened read-only (looking never creates or changes a database); exit 1, said on
/// stderr, when there is none yet.
pub fn read_state(
    config: &bouncedoc::config::Config,
) -> anyhow::Result<Result<bouncedoc::store::Store, std::process::ExitCode>> {
    match bouncedoc::store::Store::open_read_only(&config.state_dir) {
        Ok(s) => Ok(Ok(s)),
        Err(e @ bouncedoc::store::StoreError::Missing { .. }) => {
            eprintln!("bouncedoc: {e}");
            Ok(Err(std::process::ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}
