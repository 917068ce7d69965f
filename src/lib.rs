//! bouncedoc: reads email delay notices, finds out why mail is stuck, and answers by email.
//!
//! The pipeline (see the README's architecture section): [`notice`] reads raw messages into
//! [`notice::Notice`]s; later stages diagnose, decide, compose and send.

pub mod compose;
pub mod config;
pub mod diagnose;
pub mod notice;
pub mod outbox;
pub mod store;
pub mod verdict;
