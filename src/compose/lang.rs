//! The languages the bot writes to the user in. Messages to Support (the package, the summary
//! of held packages) and everything for logs, JSON and the command line stay English.

/// A language of the messages to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    /// English (the default, and the language of everything sent to Support).
    #[default]
    En,
    /// French.
    Fr,
    /// German.
    De,
    /// Spanish.
    Es,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Fr, Lang::De, Lang::Es];

    /// The language's ISO 639-1 code, as configuration and `Content-Language` write it
    /// (`en`, `fr`, `de`, `es`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Es => "es",
        }
    }

    /// The language a BCP 47 tag or a `Content-Language` value names: its primary subtag,
    /// whatever its case and region (`fr-FR`, `de`, `es-419`, ` FR-ca `); of a list
    /// (`de-AT, en`), the first. `None` for any other language, or no tag at all.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let first = tag.split(',').next()?;
        // An Accept-Language style weight (`fr;q=0.8`) is not part of the tag.
        let first = first.split(';').next()?.trim();
        let primary = first.split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.as_str()))
    }
}

impl Lang {
    /// The language of a message to the user: the configured one (`configured`: the
    /// configuration's `language`, `None` for `auto`), else what the notice's
    /// `Content-Language` names, else English.
    pub fn pick(configured: Option<Lang>, content_language: Option<&str>) -> Lang {
        configured
            .or_else(|| content_language.and_then(Lang::from_tag))
            .unwrap_or_default()
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_their_primary_language() {
        for (tag, lang) in [
            ("en", Some(Lang::En)),
            ("fr-FR", Some(Lang::Fr)),
            ("de", Some(Lang::De)),
            ("es-419", Some(Lang::Es)),
            (" FR-ca ", Some(Lang::Fr)),
            ("DE-at, en", Some(Lang::De)),
            ("en-GB;q=0.9", Some(Lang::En)),
            ("es_ES", Some(Lang::Es)),
            ("it", None),
            ("it, fr", None),
            ("french", None),
            ("fra", None),
            ("", None),
            ("  ", None),
            (",fr", None),
        ] {
            assert_eq!(Lang::from_tag(tag), lang, "{tag:?}");
        }
        for l in Lang::ALL {
            assert_eq!(Lang::from_tag(l.as_str()), Some(l));
            assert_eq!(l.to_string(), l.as_str());
        }
        assert_eq!(Lang::default(), Lang::En);
        // A new language must be listed in ALL: this match stops compiling without it.
        let languages = |l: Lang| match l {
            Lang::En | Lang::Fr | Lang::De | Lang::Es => 4,
        };
        assert_eq!(Lang::ALL.len(), languages(Lang::En));
    }

    #[test]
    fn the_configured_language_then_the_notice_s_then_english() {
        assert_eq!(Lang::pick(Some(Lang::De), Some("fr-FR")), Lang::De);
        assert_eq!(Lang::pick(None, Some("fr-FR")), Lang::Fr);
        assert_eq!(Lang::pick(None, Some("it")), Lang::En);
        assert_eq!(Lang::pick(None, None), Lang::En);
    }
}
