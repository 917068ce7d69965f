//! Where refresh tokens live: `state_dir/oauth/<owner>.json`, mode 0600 in a 0700 directory,
//! owned like the state directory, replaced atomically (a rotated token is never half
//! written), never logged.
//!
//! `bouncedoc login` may run as root while the daemon runs as its own user, and the directory
//! is writable by that user: nothing here follows a symbolic link (the directory is checked,
//! files are opened with `O_NOFOLLOW`, a new file gets a fresh name with `O_EXCL`) and
//! ownership is changed through the open file, never by path. Every exchange of a refresh
//! token happens under an exclusive lock on `<owner>.lock`, across processes (the daemon,
//! `login`, `check-config`): a rotating token is never used twice.

use crate::config::{OAuth2, TokenOwner};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A stored refresh token and what it was issued to (a token of another client or server is
/// of no use: `login` must run again).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    /// The token endpoint it was obtained from.
    pub token_url: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The token.
    pub refresh_token: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// Largest token file read.
const MAX_FILE: u64 = 64 * 1024;

/// The file of `owner`'s refresh token.
pub fn path(state_dir: &Path, owner: &TokenOwner) -> PathBuf {
    state_dir.join("oauth").join(owner.file_name())
}

/// Opens `p` without following a symbolic link.
fn open_nofollow(p: &Path, options: &mut std::fs::OpenOptions) -> std::io::Result<File> {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(p)
}

/// The `oauth` directory: created 0700 if missing, refused if it is not a plain directory,
/// owned like the state directory.
fn directory(state_dir: &Path) -> Result<PathBuf, String> {
    let dir = state_dir.join("oauth");
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!(
            "{} is not a directory (a link?): refusing to write tokens there",
            dir.display()
        ));
    }
    let handle = open_nofollow(
        &dir,
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY),
    )
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = handle.set_permissions(std::fs::Permissions::from_mode(0o700));
    own_like_state(&handle, state_dir);
    Ok(dir)
}

/// `bouncedoc login` run by root for a daemon running as its own user: what it writes belongs
/// to whoever owns the state directory.
fn own_like_state(f: &File, state_dir: &Path) {
    if let Ok(owner) = std::fs::metadata(state_dir) {
        let _ = std::os::unix::fs::fchown(f, Some(owner.uid()), Some(owner.gid()));
    }
}

/// An exclusive lock on one owner's refresh token, held until dropped.
pub struct Lock(#[allow(dead_code)] File);

/// Waits for the exclusive lock on `owner`'s refresh token (other processes included).
pub fn lock(state_dir: &Path, owner: &TokenOwner) -> Result<Lock, String> {
    let dir = directory(state_dir)?;
    let p = dir.join(owner.file_name()).with_extension("lock");
    let f = open_nofollow(
        &p,
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600),
    )
    .map_err(|e| format!("{}: {e}", p.display()))?;
    own_like_state(&f, state_dir);
    // SAFETY: flock on a file descriptor this function owns; no memory is involved.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if r != 0 {
        return Err(format!("{}: {}", p.display(), std::io::Error::last_os_error()));
    }
    Ok(Lock(f))
}

/// Reads `owner`'s refresh token for `o`: `Ok(None)` when there is none (or it belongs to
/// another client or server), an error when the file cannot be read.
pub fn load(state_dir: &Path, o: &OAuth2) -> Result<Option<Stored>, String> {
    let p = path(state_dir, &o.owner);
    let mut f = match open_nofollow(&p, std::fs::OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    let mut text = String::new();
    Read::by_ref(&mut f)
        .take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    let stored: Stored =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a stored token ({e})", p.display()))?;
    Ok((stored.token_url == o.token_url && stored.client_id == o.client_id).then_some(stored))
}

/// Stores `owner`'s refresh token: written to a new file of its own (0600), synced, renamed
/// over the old one.
pub fn save(state_dir: &Path, owner: &TokenOwner, stored: &Stored) -> Result<(), String> {
    let dir = directory(state_dir)?;
    let p = dir.join(owner.file_name());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.new",
        owner.file_name(),
        std::process::id()
    ));
    let body = serde_json::to_vec(stored).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        let mut f = open_nofollow(
            &tmp,
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600),
        )?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        own_like_state(&f, state_dir);
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", p.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flow, TokenOwner};

    fn oauth(owner: &TokenOwner) -> OAuth2 {
        OAuth2 {
            provider: None,
            flow: Flow::RefreshToken,
            token_url: "https://as.example/token".into(),
            device_url: None,
            auth_url: None,
            client_id: "c1".into(),
            client_secret: None,
            scope: "imap".into(),
            owner: owner.clone(),
        }
    }

    #[test]
    fn a_token_is_stored_private_and_read_back_only_for_its_client() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-refresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let owner = TokenOwner::Mailbox("alice".into());
        let mut o = oauth(&owner);
        assert_eq!(load(&dir, &o), Ok(None));
        let s = Stored {
            token_url: o.token_url.clone(),
            client_id: "c1".into(),
            refresh_token: "rt-1".into(),
        };
        let held = lock(&dir, &owner).unwrap();
        save(&dir, &owner, &s).unwrap();
        drop(held);
        let p = path(&dir, &owner);
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert_eq!(load(&dir, &o), Ok(Some(s.clone())));
        assert!(!format!("{s:?}").contains("rt-1"));
        o.client_id = "another".into();
        assert_eq!(load(&dir, &o), Ok(None), "another client's token is not used");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn links_planted_in_the_state_directory_are_not_followed() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-refresh-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The oauth directory is a link elsewhere: refused, the target untouched.
        std::os::unix::fs::symlink(&victim, dir.join("oauth")).unwrap();
        let owner = TokenOwner::Mailbox("alice".into());
        let s = Stored {
            token_url: "https://as.example/token".into(),
            client_id: "c1".into(),
            refresh_token: "rt".into(),
        };
        assert!(save(&dir, &owner, &s).unwrap_err().contains("not a directory"));
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // The token file is a link to a file elsewhere: not read through.
        std::fs::remove_file(dir.join("oauth")).unwrap();
        std::fs::create_dir(dir.join("oauth")).unwrap();
        std::fs::write(victim.join("secret"), "{}").unwrap();
        std::os::unix::fs::symlink(victim.join("secret"), path(&dir, &owner)).unwrap();
        assert!(load(&dir, &oauth(&owner)).is_err());
        // Saving replaces the link itself, not what it points to.
        save(&dir, &owner, &s).unwrap();
        assert_eq!(std::fs::read_to_string(victim.join("secret")).unwrap(), "{}");
        assert_eq!(load(&dir, &oauth(&owner)), Ok(Some(s)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
