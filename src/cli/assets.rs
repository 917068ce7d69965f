//! `bouncedoc generate-assets DIR` (hidden; for packaging): the man pages (`bouncedoc.1` and one
//! per subcommand) and the
//! shell completions (bash, zsh, fish), generated from the command line itself so they never
//! drift from it.

use clap_complete::Shell;
use std::path::Path;
use std::process::ExitCode;

/// Writes the man page and completions for `cmd` into `dir`.
pub fn run(cmd: clap::Command, dir: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir)?;
    // bouncedoc(1) and one page per subcommand (bouncedoc-run(1), …), as the main page names.
    clap_mangen::generate_to(cmd.clone(), dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cmd.clone();
        clap_complete::generate_to(shell, &mut cmd, "bouncedoc", dir)?;
    }
    Ok(ExitCode::SUCCESS)
}
