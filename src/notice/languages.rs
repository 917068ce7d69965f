//! The words Exchange and Exchange Online write in other languages: one table per language.
//!
//! Exchange writes its notices in the language of the original message or of the
//! organisation (the notice's `Content-Language`). The reader goes by structure first — the
//! delivery-status part's `Action`, "host (IP)" beside a label line, the quoted server reply,
//! numbers followed by unit words — and these tables only label what the structure finds:
//! which label line names the generating or receiving server, which words say "delayed" or
//! "given up" when a notice has no delivery-status part, where the quoted original begins, and
//! the unit words of the retry period ("1 jours, 19 heures et 58 minutes").
//!
//! What is known about each language, and how solid it is, is said beside it. Two things hold
//! in every language: the server's reply stays in English (`Remote Server returned '…'`), and
//! Exchange does not make units singular ("1 days", "1 jours"). Matching ignores ASCII case
//! only, so phrases starting with a non-ASCII capital are listed in both cases.

/// The words one language uses in Exchange notices.
#[derive(Debug)]
pub struct Language {
    /// The BCP 47 primary language subtag (`fr`).
    pub tag: &'static str,
    /// Subject openings of a delay notice ("Remise différée :").
    pub delay_subjects: &'static [&'static str],
    /// Subject openings of a final failure ("Non remis :").
    pub failed_subjects: &'static [&'static str],
    /// Body wording that says the server is still trying.
    pub delay: &'static [&'static str],
    /// Body wording that says delivery was given up.
    pub failed: &'static [&'static str],
    /// Wording only notices carry (the heading of the diagnostic block, the recipients' list).
    pub markers: &'static [&'static str],
    /// Labels of the line naming the server that wrote the notice ("Generating server").
    pub generating: &'static [&'static str],
    /// Labels of the line naming the remote server ("Receiving server").
    pub receiving: &'static [&'static str],
    /// The heading of the original message's headers (the quoted original starts there).
    pub original: &'static [&'static str],
    /// Unit words of the retry period: days.
    pub days: &'static [&'static str],
    /// Unit words of the retry period: hours.
    pub hours: &'static [&'static str],
    /// Unit words of the retry period: minutes.
    pub minutes: &'static [&'static str],
    /// The word joining the last unit ("and").
    pub and: &'static [&'static str],
}

/// Every language the reader knows, English first. (English body wording lives in
/// `wording`, with the other MTAs' English; here English gives its labels and units.)
pub const LANGUAGES: &[Language] = &[
    // English: every string verified against real Exchange 2013–2019 and Exchange Online
    // notices. Exchange Online also answers in English for messages in other languages.
    Language {
        tag: "en",
        delay_subjects: &[],
        failed_subjects: &[],
        delay: &[],
        failed: &[],
        markers: &[],
        generating: &["generating server"],
        receiving: &["receiving server"],
        original: &["original message headers"],
        days: &["day", "days"],
        hours: &["hour", "hours"],
        minutes: &["minute", "minutes"],
        and: &["and"],
    },
    // French (fr-FR, fr-CA, fr-CH): failure notices verified from real Exchange 15 samples
    // ("Non remis :", "Échec de la remise pour ces destinataires ou groupes :", "Serveur de
    // génération :", "En-têtes de message d'origine :"). French writes a space (a no-break
    // space in HTML) before the colon. Delay wording and units follow Exchange's French UI.
    Language {
        tag: "fr",
        delay_subjects: &["remise différée", "remise retardée", "retard de remise"],
        failed_subjects: &["non remis"],
        delay: &[
            "n'a pas encore été remis",
            "n’a pas encore été remis",
            "la remise à ces destinataires ou groupes est différée",
            "continuera d'essayer de remettre",
            "continuera d’essayer de remettre",
            "les tentatives de remise se poursuivront",
        ],
        failed: &[
            "échec de la remise",
            "Échec de la remise",
            "n'a pas pu être remis",
            "n’a pas pu être remis",
        ],
        markers: &[
            "informations de diagnostic pour les administrateurs",
            "ces destinataires ou groupes",
        ],
        generating: &["serveur de génération"],
        receiving: &["serveur de réception"],
        original: &["en-têtes de message d'origine", "en-têtes de message d’origine"],
        days: &["jour", "jours"],
        hours: &["heure", "heures"],
        minutes: &["minute", "minutes"],
        and: &["et"],
    },
    // German (de-DE, de-AT, de-CH): "Unzustellbar:", "Fehler bei der Nachrichtenzustellung"
    // and "Diagnoseinformationen für Administratoren:" are matched by mailbox scripts on real
    // notices; the labels are Microsoft's German documentation; the delay intro is the
    // Exchange 2010 wording with 2013's "Gruppen".
    Language {
        tag: "de",
        delay_subjects: &["zustellung verzögert", "übermittlung verzögert"],
        failed_subjects: &["unzustellbar", "nicht zustellbar"],
        delay: &[
            "wurde noch nicht zugestellt",
            "empfänger oder gruppen wurde verzögert",
            "empfänger oder verteilerlisten wurde verzögert",
            "wird weiterhin versucht",
        ],
        failed: &[
            "fehler bei der nachrichtenzustellung",
            "konnte nicht zugestellt werden",
        ],
        markers: &[
            "diagnoseinformationen für administratoren",
            "folgende empfänger oder gruppen",
        ],
        generating: &["generierender server"],
        receiving: &["empfangender server"],
        original: &["ursprüngliche nachrichtenkopfzeilen"],
        days: &["tag", "tage", "tagen"],
        hours: &["stunde", "stunden"],
        minutes: &["minute", "minuten"],
        and: &["und"],
    },
    // Spanish (es-ES, es-MX, es-419): the delay notice verified from a real Exchange Online
    // notice ("Se retrasó la entrega a estos destinatarios o grupos:", "Este mensaje aún no
    // se entregó.", "1 días, 20 horas y 13 minutos"); labels from Microsoft's documentation.
    Language {
        tag: "es",
        delay_subjects: &["retraso en la entrega", "entrega retrasada"],
        failed_subjects: &["no se puede entregar", "no entregado"],
        delay: &[
            "se retrasó la entrega",
            "aún no se entregó",
            "aún no se ha entregado",
            "se seguirá tratando de realizar la entrega",
            "seguirá tratando de entregar",
        ],
        failed: &["error al entregar", "no se pudo entregar"],
        markers: &[
            "información de diagnóstico para administradores",
            "estos destinatarios o grupos",
        ],
        generating: &["servidor de generación"],
        receiving: &["servidor de recepción"],
        original: &["encabezados del mensaje original"],
        days: &["día", "días"],
        hours: &["hora", "horas"],
        minutes: &["minuto", "minutos"],
        and: &["y"],
    },
    // Italian (it-IT, it-CH): failure notices verified from a real Exchange 15 sample ("Non
    // recapitabile:", "Il recapito non è riuscito per i seguenti destinatari o gruppi:",
    // "Server di generazione:", "Intestazioni originali del messaggio:"); "Recapito
    // ritardato" from mailbox scripts on real notices.
    Language {
        tag: "it",
        delay_subjects: &["recapito ritardato"],
        failed_subjects: &["non recapitabile"],
        delay: &[
            "non è stato ancora recapitato",
            "il recapito è stato ritardato",
            "continuerà a tentare di recapitare",
        ],
        failed: &["il recapito non è riuscito", "non è stato possibile recapitare"],
        markers: &[
            "informazioni di diagnostica per gli amministratori",
            "seguenti destinatari o gruppi",
        ],
        generating: &["server di generazione"],
        receiving: &["server di ricezione"],
        original: &["intestazioni originali del messaggio"],
        days: &["giorno", "giorni"],
        hours: &["ora", "ore"],
        minutes: &["minuto", "minuti"],
        and: &["e"],
    },
    // Dutch (nl-NL, nl-BE): Exchange Online's failure wording as bounce parsers match it
    // ("Onbestelbaar:", "Diagnostische gegevens voor beheerders:", "Bronserver:",
    // "Oorspronkelijke berichtkoppen:"); delay wording follows Exchange's Dutch UI.
    Language {
        tag: "nl",
        delay_subjects: &["bezorging vertraagd"],
        failed_subjects: &["onbestelbaar"],
        delay: &[
            "is nog niet bezorgd",
            "de bezorging is vertraagd",
            "blijft proberen dit bericht te bezorgen",
        ],
        failed: &["kan niet worden bezorgd"],
        markers: &[
            "diagnostische gegevens voor beheerders",
            "geadresseerden of groepen",
        ],
        generating: &["bronserver", "genererende server"],
        receiving: &["ontvangende server"],
        original: &["oorspronkelijke berichtkoppen"],
        days: &["dag", "dagen"],
        hours: &["uur", "uren"],
        minutes: &["minuut", "minuten"],
        and: &["en"],
    },
    // Portuguese (pt-BR, pt-PT): Exchange Online's failure wording as bounce parsers match
    // it ("Não entregue:", "Falha na entrega a estes destinatários ou grupos:", "Servidor de
    // origem:", "Cabeçalhos originais da mensagem:"); the on-premises documentation's terms
    // differ ("Servidor gerador"), so both are listed.
    Language {
        tag: "pt",
        delay_subjects: &["entrega atrasada", "atraso na entrega"],
        failed_subjects: &["não entregue", "não é possível entregar"],
        delay: &[
            "ainda não foi entregue",
            "a entrega a estes destinatários ou grupos está atrasada",
            "continuará tentando entregar",
        ],
        failed: &["falha na entrega", "não foi possível entregar"],
        markers: &[
            "informações de diagnóstico para administradores",
            "estes destinatários ou grupos",
        ],
        generating: &["servidor de origem", "servidor gerador"],
        receiving: &["servidor de recebimento", "servidor receptor"],
        original: &[
            "cabeçalhos originais da mensagem",
            "cabeçalhos da mensagem original",
        ],
        days: &["dia", "dias"],
        hours: &["hora", "horas"],
        minutes: &["minuto", "minutos"],
        and: &["e"],
    },
    // Swedish (sv-SE): "Olevererbart:", "Genererande server:", "Ursprungshuvuden:" as bounce
    // parsers match them; the rest follows Exchange's Swedish UI.
    Language {
        tag: "sv",
        delay_subjects: &["leveransen fördröjd", "fördröjd leverans"],
        failed_subjects: &["olevererbart"],
        delay: &[
            "har inte levererats än",
            "leveransen till dessa mottagare eller grupper har fördröjts",
            "fortsätter att försöka leverera",
        ],
        failed: &["leveransen misslyckades", "kunde inte levereras"],
        markers: &[
            "diagnostisk information för administratörer",
            "mottagare eller grupper",
        ],
        generating: &["genererande server"],
        receiving: &["mottagande server"],
        original: &["ursprungshuvuden"],
        days: &["dag", "dagar"],
        hours: &["timme", "timmar"],
        minutes: &["minut", "minuter"],
        and: &["och"],
    },
    // Polish (pl-PL): only the failure subject ("Niedostarczalne") is attested; the rest
    // follows Exchange's Polish UI. Polish inflects its units (1 dzień, 2 dni; 1 godzina,
    // 2 godziny, 5 godzin), so every form is listed.
    Language {
        tag: "pl",
        delay_subjects: &["dostarczanie opóźnione", "opóźnione dostarczanie"],
        failed_subjects: &["niedostarczalne", "nie można dostarczyć"],
        delay: &[
            "nie została jeszcze dostarczona",
            "dostarczanie do tych adresatów lub grup jest opóźnione",
            "będzie nadal próbować dostarczyć",
        ],
        failed: &["dostarczanie nie powiodło się", "nie można dostarczyć"],
        markers: &[
            "informacje diagnostyczne dla administratorów",
            "adresatów lub grup",
        ],
        generating: &["serwer generujący"],
        receiving: &["serwer odbierający"],
        original: &["oryginalne nagłówki wiadomości"],
        days: &["dzień", "dni"],
        hours: &["godzina", "godziny", "godzin", "godz"],
        minutes: &["minuta", "minuty", "minut", "min"],
        and: &["i"],
    },
    // Japanese (ja-JP): the diagnostic heading is from Microsoft's Japanese documentation;
    // the rest follows Exchange's Japanese UI. Japanese writes no spaces between numbers and
    // units ("1日19時間58分"); the period reader splits digits from words itself.
    Language {
        tag: "ja",
        delay_subjects: &["配信遅延", "配信の遅延"],
        failed_subjects: &["配信不能", "配信できませんでした"],
        delay: &[
            "まだ配信されていません",
            "配信が遅延しています",
            "配信を試行し続けます",
        ],
        failed: &["配信できませんでした", "配信に失敗しました"],
        markers: &["管理者向けの診断情報", "管理者用の診断情報"],
        generating: &["生成サーバー"],
        receiving: &["受信サーバー"],
        original: &["元のメッセージ ヘッダー", "元のメッセージヘッダー"],
        days: &["日"],
        hours: &["時間"],
        minutes: &["分"],
        and: &[],
    },
    // Chinese (zh-CN simplified, zh-TW traditional): nothing attested beyond the subject word
    // 未送达; this follows Exchange's Chinese UI in both scripts.
    Language {
        tag: "zh",
        delay_subjects: &["延迟传递", "传递延迟", "延遲傳遞"],
        failed_subjects: &["无法投递", "未送达", "無法傳遞"],
        delay: &["尚未传递", "将继续尝试", "尚未傳遞", "將繼續嘗試"],
        failed: &["传递失败", "無法傳遞到"],
        markers: &["管理员的诊断信息", "管理員的診斷資訊"],
        generating: &["生成服务器", "產生伺服器"],
        receiving: &["接收服务器", "接收伺服器"],
        original: &["原始邮件头", "原始郵件標頭"],
        days: &["天"],
        hours: &["小时", "小時"],
        minutes: &["分钟", "分鐘"],
        and: &["和"],
    },
];

/// The language a `Content-Language` value (`fr-FR`, `de`, ` PT-br `) names, when the
/// reader knows it.
pub fn by_tag(value: &str) -> Option<&'static Language> {
    let primary = value
        .split(',')
        .next()?
        .trim()
        .split(['-', '_'])
        .next()?
        .to_ascii_lowercase();
    LANGUAGES.iter().find(|l| l.tag == primary)
}

/// Which kind of server a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerLabel {
    /// The server that wrote the notice.
    Generating,
    /// The remote server delivery was tried to.
    Receiving,
}

/// Which server a label line's label ("Serveur de réception", lower-cased ASCII) names.
pub fn server_label(label: &str) -> Option<ServerLabel> {
    let l = label.trim().to_lowercase();
    for lang in LANGUAGES {
        if lang.generating.iter().any(|g| l == *g) {
            return Some(ServerLabel::Generating);
        }
        if lang.receiving.iter().any(|r| l == *r) {
            return Some(ServerLabel::Receiving);
        }
    }
    None
}

/// Seconds in one unit word of any language ("jours", "Stunden", "分"), when it is one.
pub fn unit_seconds(word: &str) -> Option<u64> {
    let w = word.trim_end_matches('.').to_lowercase();
    for lang in LANGUAGES {
        if lang.days.contains(&w.as_str()) {
            return Some(86_400);
        }
        if lang.hours.contains(&w.as_str()) {
            return Some(3_600);
        }
        if lang.minutes.contains(&w.as_str()) {
            return Some(60);
        }
    }
    None
}

/// True for a word that joins the last unit of a period ("and", "et", "und", "y", …).
pub fn is_and(word: &str) -> bool {
    let w = word.to_lowercase();
    LANGUAGES.iter().any(|l| l.and.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_labels() {
        assert_eq!(by_tag("fr-FR").map(|l| l.tag), Some("fr"));
        assert_eq!(by_tag(" PT-br ").map(|l| l.tag), Some("pt"));
        assert_eq!(by_tag("zh-Hant-TW, en").map(|l| l.tag), Some("zh"));
        assert!(by_tag("xx").is_none());
        assert_eq!(server_label("Serveur de réception"), Some(ServerLabel::Receiving));
        assert_eq!(
            server_label("Generierender Server"),
            Some(ServerLabel::Generating)
        );
        assert_eq!(server_label("受信サーバー"), Some(ServerLabel::Receiving));
        assert_eq!(server_label("Subject"), None);
        assert_eq!(unit_seconds("Stunden"), Some(3_600));
        assert_eq!(unit_seconds("días"), Some(86_400));
        assert_eq!(unit_seconds("godz."), Some(3_600));
        assert_eq!(unit_seconds("Message"), None);
        assert!(is_and("et") && is_and("und") && !is_and("with"));
    }

    #[test]
    fn every_language_has_its_labels_and_units() {
        for l in LANGUAGES {
            assert!(!l.generating.is_empty(), "{}", l.tag);
            assert!(!l.receiving.is_empty(), "{}", l.tag);
            assert!(!l.original.is_empty(), "{}", l.tag);
            assert!(
                !l.days.is_empty() && !l.hours.is_empty() && !l.minutes.is_empty(),
                "{}",
                l.tag
            );
            if l.tag != "en" {
                assert!(
                    !l.delay_subjects.is_empty() && !l.failed_subjects.is_empty(),
                    "{}",
                    l.tag
                );
                assert!(
                    !l.delay.is_empty() && !l.failed.is_empty() && !l.markers.is_empty(),
                    "{}",
                    l.tag
                );
            }
            // Labels are compared lower-cased.
            for s in l.generating.iter().chain(l.receiving) {
                assert_eq!(s.to_lowercase(), *s, "{}", l.tag);
            }
        }
    }
}
