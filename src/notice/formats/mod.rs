//! Wording that belongs to one family of mail software: Exchange's diagnostic block, the
//! remote-server phrases of Postfix, Exim and Sendmail, Amazon SES. (Which family wrote a
//! notice is `notice::generator`; the families' markers are `wording::FAMILIES`.)

pub mod exchange;
pub mod remote;
pub mod ses;

pub use super::wording::FAMILIES;
