//! Where things are by default: the service's (`/etc/bouncedoc`, systemd's `$STATE_DIRECTORY`,
//! `/var/lib/bouncedoc`) or, for a user other than root running without `--config`, their own
//! XDG directories.

use std::path::PathBuf;

/// The directory systemd made for the service (`StateDirectory=` sets `$STATE_DIRECTORY`): the
/// state's home when the file names none.
pub(super) fn systemd_state_directory() -> Option<PathBuf> {
    let v = std::env::var_os("STATE_DIRECTORY")?;
    let first = std::env::split_paths(&v).next()?;
    (!first.as_os_str().is_empty()).then_some(first)
}

/// True when running as a user other than root: the per-user defaults apply.
pub fn is_per_user() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() != 0 }
}

/// An XDG base directory: `$VAR` when set to an absolute path, else `~/fallback`.
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_absolute() => Some(p),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .map(|h| h.join(fallback)),
    }
}

/// Whether the per-user defaults apply: set by the command line when it runs as a user other
/// than root and no `--config` was given (an admin's `--config /etc/…` keeps the service's).
static PER_USER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the per-user defaults on (see [`default_path`]).
pub fn use_per_user_defaults() {
    PER_USER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A user's own state directory, `$XDG_STATE_HOME/bouncedoc` (`~/.local/state/bouncedoc`),
/// when the per-user defaults apply.
pub(super) fn user_state_directory() -> Option<PathBuf> {
    PER_USER
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| xdg("XDG_STATE_HOME", ".local/state"))
        .flatten()
        .map(|d| d.join("bouncedoc"))
}

/// Where the configuration is read from without `--config`: root (the service) reads
/// `/etc/bouncedoc/config.yaml`; anyone else their own `$XDG_CONFIG_HOME/bouncedoc/config.yaml`
/// (`~/.config/bouncedoc/config.yaml`).
/// Calling it as a user other than root turns the per-user state directory on too.
pub fn default_path() -> PathBuf {
    let system = PathBuf::from("/etc/bouncedoc/config.yaml");
    if !is_per_user() {
        return system;
    }
    use_per_user_defaults();
    xdg("XDG_CONFIG_HOME", ".config").map_or(system, |d| d.join("bouncedoc/config.yaml"))
}
