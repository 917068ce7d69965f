//! bouncedoc: reads email delay notices, finds out why mail is stuck, and answers by email.
//!
//! The pipeline (see the README's architecture section): [`notice`] reads raw messages into
//! [`notice::Notice`]s; [`diagnose`] checks DNS, blocklists and reverse DNS; [`verdict`]
//! decides; [`compose`] writes the messages; [`outbox`] (over [`store`]) sends them.
//! [`config`] reads the YAML configuration.

#![warn(missing_docs)]

pub mod commands;
pub mod compose;
pub mod config;
pub mod conversation;
pub mod daemon;
pub mod diagnose;
pub mod leases;
pub mod mailaddr;
pub mod metrics;
pub mod notice;
pub mod outbox;
pub mod process;
pub mod signin;
pub mod store;
pub mod verdict;
pub mod vocab;
pub mod watch;
