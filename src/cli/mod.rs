//! One module per subcommand; each returns the process exit code.

pub mod assets;
pub mod check;
pub mod diagnose;
pub mod history;
pub mod login;
pub mod parse;
pub mod run;
pub mod status;

/// The state (SQLite in `state_dir`, or the shared PostgreSQL database), opened read-only
/// (looking never creates or changes a database); exit 1, said on stderr, when there is none
/// yet.
pub fn read_state(
    config: &bouncedoc::config::Config,
) -> anyhow::Result<Result<bouncedoc::store::Store, std::process::ExitCode>> {
    if let Some(db) = &config.database {
        let connect = bouncedoc::store::postgres::Connect::for_config(db)?;
        return match bouncedoc::store::Store::look_postgres(&connect)? {
            Some(s) => Ok(Ok(s)),
            None => {
                eprintln!(
                    "bouncedoc: {}: no state yet: `bouncedoc run` has not created it in this database",
                    connect.label()
                );
                Ok(Err(std::process::ExitCode::from(1)))
            }
        };
    }
    match bouncedoc::store::Store::open_read_only(&config.state_dir) {
        Ok(s) => Ok(Ok(s)),
        Err(e @ bouncedoc::store::StoreError::Missing { .. }) => {
            eprintln!("bouncedoc: {e}");
            Ok(Err(std::process::ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}
