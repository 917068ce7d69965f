//! The gate: what is never read as a notice. The bot's own messages (its answers land in the
//! watched mailbox too: reading them would be a loop) and replies to them (a command or a
//! refusal, even when they quote the bot's words about a delay).

use super::*;

/// Where a message goes before it is read as a notice.
pub(super) enum Gate {
    /// The bot's own message: left alone.
    Own,
    /// A reply to one of the bot's messages (the Message-IDs it refers to).
    ReplyToBot(Vec<String>),
    /// Anything else: read it (the Message-IDs it refers to, if any).
    Other(Vec<String>),
}

impl Answerer {
    /// Sorts a message at the gate.
    pub(super) fn gate(&self, raw: &[u8], envelope: &Envelope) -> Result<Gate, ProcessError> {
        let bot = self.config.from.as_ref().map(|f| f.address.as_str());
        let from_bot = envelope
            .from
            .iter()
            .any(|a| bot.is_some_and(|b| a.eq_ignore_ascii_case(b)));
        let sent_by_bot = match envelope.message_id.as_deref() {
            Some(id) => self.state.with(|s| s.is_ours(id))?,
            None => false,
        };
        let (section, _) = notice::mime::split(raw);
        let marked = notice::mime::find_header(section, crate::commands::BOT_HEADER).is_some();
        if from_bot || sent_by_bot || marked {
            return Ok(Gate::Own);
        }
        let refs = crate::commands::referenced_ids(raw);
        for id in &refs {
            if self.state.with(|s| s.is_ours(id))? {
                return Ok(Gate::ReplyToBot(refs));
            }
        }
        Ok(Gate::Other(refs))
    }
}
