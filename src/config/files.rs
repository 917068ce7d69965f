//! `mailboxes_dir`: one file per user's mailbox, each checked on its own. A file that is not
//! valid, or claims a name another file (or the main file) uses, is refused alone; the others
//! are watched.

use super::yaml::line_of_path;
use super::*;

impl Config {
    /// Adds the mailboxes of `dir` (every `*.yaml`, in name order). A file that is not valid,
    /// or that uses a name already taken, is refused and listed in [`Config::refused`]; the
    /// others are watched.
    pub fn add_mailbox_files(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let read = |source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            // Editors' and tools' hidden files (`.bea.yaml.swp`, `.new.yaml`) are not mailboxes.
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.') && n.ends_with(".yaml"))
                    && p.is_file()
            })
            .collect();
        files.sort();
        let mut good: Vec<MailboxConfig> = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    self.refuse(&file, format!("{}: cannot read: {e}", file.display()));
                    continue;
                }
            };
            match mailbox_file(&text, self) {
                Err(Invalid { line, key, message }) => {
                    let why = format!("{}:{line}: {key}: {message}", file.display());
                    self.refuse(&file, why);
                }
                Ok(m) => good.push(MailboxConfig {
                    source: Some(file),
                    ..m
                }),
            }
        }
        // A name claimed twice: every file claiming it is refused (the mailbox keeps running as
        // it was), whichever sorts first; the main file's own mailboxes stay.
        for m in &good {
            let others: Vec<String> = good
                .iter()
                .filter(|o| o.name == m.name && o.source != m.source)
                .filter_map(|o| o.source.as_ref().map(|p| p.display().to_string()))
                .chain(
                    self.mailboxes
                        .iter()
                        .filter(|o| o.name == m.name)
                        .map(|_| "the main configuration file".to_string()),
                )
                .collect();
            if let (false, Some(file)) = (others.is_empty(), &m.source) {
                let why = format!(
                    "{}: name: {:?} is also used by {}: every mailbox needs its own name",
                    file.display(),
                    m.name,
                    others.join(", ")
                );
                self.refuse(file, why);
            }
        }
        let refused = self.refused_files.clone();
        self.mailboxes.extend(
            good.into_iter()
                .filter(|m| m.source.as_ref().is_none_or(|f| !refused.contains(f))),
        );
        Ok(())
    }

    fn refuse(&mut self, file: &Path, why: String) {
        self.refused.push(why);
        self.refused_files.push(file.to_path_buf());
    }
}

/// One file of `mailboxes_dir`: a `mailboxes[]` entry on its own, checked against the main
/// file's global settings.
fn mailbox_file(text: &str, global: &Config) -> Result<MailboxConfig, Invalid> {
    let raw: RawMailbox = deserialize(text)?;
    let at = |Problem { key, message }: Problem| {
        let key = key.strip_prefix("mailbox.").unwrap_or(&key).to_string();
        let parent = key.rsplit_once('.').map_or(key.as_str(), |(p, _)| p);
        let line = line_of_path(text, &key)
            .or_else(|| line_of_path(text, parent))
            .unwrap_or(0);
        Invalid { line, key, message }
    };
    let m = mailbox_config("mailbox", raw).map_err(at)?;
    let whole = |message: &str| Invalid {
        line: 1,
        key: "(file)".into(),
        message: message.into(),
    };
    if m.smtp.is_none() && global.smtp.is_none() {
        return Err(whole(
            "no smtp block: add one here or a global `smtp`, so answers can be sent",
        ));
    }
    if m.support.is_none() && global.support.is_none() {
        return Err(whole("no support address: add one here or a global `support`"));
    }
    if global.from.is_none() {
        return Err(whole(
            "watching mailboxes needs `from` in the main configuration file",
        ));
    }
    Ok(m)
}
