//! One module per subcommand; each returns the process exit code.

pub mod assets;
pub mod check;
pub mod diagnose;
pub mod history;
pub mod login;
pub mod parse;
pub mod run;
pub mod status;
