//! Where refresh tokens live: `state_dir/oauth/<owner>.json`, mode 0600 in a 0700 directory,
//! replaced atomically (a rotated token is never half written), never logged.

use crate::config::{OAuth2, TokenOwner};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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

/// The file of `owner`'s refresh token.
pub fn path(state_dir: &Path, owner: &TokenOwner) -> PathBuf {
    state_dir.join("oauth").join(owner.file_name())
}

/// Reads `owner`'s refresh token for `o`: `Ok(None)` when there is none (or it belongs to
/// another client or server), an error when the file cannot be read.
pub fn load(state_dir: &Path, o: &OAuth2) -> Result<Option<Stored>, String> {
    let p = path(state_dir, &o.owner);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    let stored: Stored =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a stored token ({e})", p.display()))?;
    Ok((stored.token_url == o.token_url && stored.client_id == o.client_id).then_some(stored))
}

/// Stores `owner`'s refresh token: written to a temporary file (0600), synced, renamed over the
/// old one.
pub fn save(state_dir: &Path, owner: &TokenOwner, stored: &Stored) -> Result<(), String> {
    let p = path(state_dir, owner);
    let dir = p.parent().unwrap_or(state_dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let tmp = p.with_extension("json.new");
    let body = serde_json::to_vec(stored).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(&body)?;
        f.sync_all()?;
        // `bouncedoc login` run by root for a daemon running as its own user: the file belongs
        // to whoever owns the state directory.
        if let Ok(owner) = std::fs::metadata(state_dir) {
            use std::os::unix::fs::MetadataExt;
            let _ = std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid()));
            let _ = std::os::unix::fs::chown(dir, Some(owner.uid()), Some(owner.gid()));
        }
        std::fs::rename(&tmp, &p)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flow, TokenOwner};

    #[test]
    fn a_token_is_stored_private_and_read_back_only_for_its_client() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-refresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let owner = TokenOwner::Mailbox("alice".into());
        let mut o = OAuth2 {
            provider: None,
            flow: Flow::RefreshToken,
            token_url: "https://as.example/token".into(),
            device_url: None,
            client_id: "c1".into(),
            client_secret: None,
            scope: "imap".into(),
            owner: owner.clone(),
        };
        assert_eq!(load(&dir, &o), Ok(None));
        let s = Stored {
            token_url: o.token_url.clone(),
            client_id: "c1".into(),
            refresh_token: "rt-1".into(),
        };
        save(&dir, &owner, &s).unwrap();
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
}
