//! One module per subcommand; each returns the process exit code.

pub mod diagnose;
pub mod parse;
