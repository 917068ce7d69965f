//! Watching mailboxes: [`imap`] logs in (implicit TLS, STARTTLS, or plain text to loopback);
//! [`mailbox`] is one mailbox's task: SELECT, the UID cursor and UIDVALIDITY, fetching new
//! messages with `BODY.PEEK[]`, IDLE or polling, reconnecting with backoff; [`logins`] bounds
//! the logins in progress per server.

pub mod imap;
pub mod logins;
pub mod mailbox;
