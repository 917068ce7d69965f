//! What the daemon counts, for Prometheus, and the HTTP listener that serves it: `/metrics`
//! (the Prometheus text format, written by the `prometheus` crate; `promtool check metrics`
//! accepts it), `/livez` (the process runs) and `/readyz` (every configured mailbox is signed
//! in and watching, and the state can be written; 503 with the reasons otherwise).
//!
//! One registry per process ([`get`]): the readers, the watchers and the senders count into it
//! wherever they are. Labels stay bounded: mailbox names, zone names from the configuration and
//! fixed words; never an address or a domain from a notice.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::sync::OnceLock;

/// Every metric the daemon keeps.
pub struct Metrics {
    registry: Registry,
    /// Every family's name, exported or not yet (a family with labels appears once used).
    names: Vec<String>,
    /// Which mailboxes are watching (read without creating a series), and which were
    /// forgotten (a removed mailbox's last "not watching" must not bring its series back).
    up: std::sync::Mutex<(
        std::collections::HashMap<String, bool>,
        std::collections::HashSet<String>,
    )>,
    /// `bouncedoc_mailbox_up{mailbox}`: 1 signed in and watching, 0 not.
    pub mailbox_up: IntGaugeVec,
    /// `bouncedoc_imap_reconnects_total{mailbox}`.
    pub imap_reconnects: IntCounterVec,
    /// `bouncedoc_last_notice_timestamp_seconds{mailbox}`.
    pub last_notice: IntGaugeVec,
    /// `bouncedoc_notices_total{mailbox,kind}`.
    pub notices: IntCounterVec,
    /// `bouncedoc_verdicts_total{mailbox,cause,action}`.
    pub verdicts: IntCounterVec,
    /// `bouncedoc_skipped_total{mailbox,reason}`: `unreadable`, `too_large`, `over_budget`,
    /// `no_thread`, `failed`.
    pub skipped: IntCounterVec,
    /// `bouncedoc_messages_sent_total{role}`.
    pub sent: IntCounterVec,
    /// `bouncedoc_outbox_queued`: messages waiting to be sent (set at each scrape).
    pub outbox_queued: IntGauge,
    /// `bouncedoc_outbox_oldest_seconds`: how long the oldest has waited (set at each scrape).
    pub outbox_oldest: IntGauge,
    /// `bouncedoc_send_failures_total{kind}`: `transient`, `permanent`.
    pub send_failures: IntCounterVec,
    /// `bouncedoc_held_total{limit}`: `replies_per_hour`, `forwards_per_hour`.
    pub held: IntCounterVec,
    /// `bouncedoc_diagnosis_duration_seconds`.
    pub diagnosis_duration: Histogram,
    /// `bouncedoc_dns_queries_total{outcome}`: `answer`, `nxdomain`, `nodata`, `failed`.
    pub dns_queries: IntCounterVec,
    /// `bouncedoc_blocklist_zone_up{zone}`: 1 when the zone passed its self-test.
    pub zone_up: IntGaugeVec,
    /// `bouncedoc_mailboxes_owned`: mailboxes this instance watches (with several instances
    /// on PostgreSQL, those leased to it; else every configured one).
    pub mailboxes_owned: IntGauge,
    /// `bouncedoc_instances`: instances sharing the database, this one included (1 with
    /// SQLite).
    pub instances: IntGauge,
}

/// Registers one metric; the names and labels are fixed here, so a failure is a bug.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    if let Err(e) = registry.register(Box::new(m.clone())) {
        tracing::error!(error = %e, "metric not registered");
    }
    m
}

fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help).namespace("bouncedoc"), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(registry, vec)
}

fn gauges(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help).namespace("bouncedoc"), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(registry, vec)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::with_opts(Opts::new(name, help).namespace("bouncedoc"))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(registry, g)
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let build = gauges(&r, "build_info", "The running build (always 1)", &["version"]);
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "diagnosis_duration_seconds",
                "Time to diagnose one notice (all its DNS checks)",
            )
            .namespace("bouncedoc")
            .buckets(prometheus::exponential_buckets(0.005, 2.0, 14).unwrap_or_default()),
        )
        .unwrap_or_else(|e| panic!("metric diagnosis_duration_seconds: {e}"));
        Metrics {
            mailbox_up: gauges(
                &r,
                "mailbox_up",
                "1 when the mailbox is signed in and watching",
                &["mailbox"],
            ),
            imap_reconnects: counters(
                &r,
                "imap_reconnects_total",
                "IMAP sessions started again after one ended",
                &["mailbox"],
            ),
            last_notice: gauges(
                &r,
                "last_notice_timestamp_seconds",
                "When the mailbox's last notice was processed (Unix time)",
                &["mailbox"],
            ),
            notices: counters(&r, "notices_total", "Notices read, by kind", &["mailbox", "kind"]),
            verdicts: counters(
                &r,
                "verdicts_total",
                "Verdicts reached, by cause and action",
                &["mailbox", "cause", "action"],
            ),
            skipped: counters(
                &r,
                "skipped_total",
                "Messages skipped, by reason",
                &["mailbox", "reason"],
            ),
            sent: counters(
                &r,
                "messages_sent_total",
                "Messages the SMTP server accepted, by role",
                &["role"],
            ),
            outbox_queued: gauge(&r, "outbox_queued", "Messages waiting to be sent"),
            mailboxes_owned: gauge(
                &r,
                "mailboxes_owned",
                "Mailboxes this instance watches (leased to it when several share PostgreSQL)",
            ),
            instances: gauge(
                &r,
                "instances",
                "Instances sharing the state database, this one included",
            ),
            outbox_oldest: gauge(
                &r,
                "outbox_oldest_seconds",
                "How long the oldest queued message has waited",
            ),
            send_failures: counters(
                &r,
                "send_failures_total",
                "Delivery attempts that failed, by kind",
                &["kind"],
            ),
            held: counters(
                &r,
                "held_total",
                "Messages the hourly limits held back, by limit",
                &["limit"],
            ),
            diagnosis_duration: register(&r, duration),
            dns_queries: counters(&r, "dns_queries_total", "DNS queries, by outcome", &["outcome"]),
            zone_up: gauges(
                &r,
                "blocklist_zone_up",
                "1 when the blocklist zone passed its self-test",
                &["zone"],
            ),
            names: Vec::new(),
            up: std::sync::Mutex::new(Default::default()),
            registry: r,
        }
        .with_names()
    }

    /// Fills [`Metrics::names`] from every registered collector's description.
    fn with_names(mut self) -> Metrics {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 14] = [
            &self.mailbox_up,
            &self.imap_reconnects,
            &self.last_notice,
            &self.notices,
            &self.verdicts,
            &self.skipped,
            &self.sent,
            &self.outbox_queued,
            &self.outbox_oldest,
            &self.send_failures,
            &self.held,
            &self.diagnosis_duration,
            &self.dns_queries,
            &self.zone_up,
        ];
        let mut names: Vec<String> = collectors
            .iter()
            .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
            .collect();
        names.push("bouncedoc_build_info".into());
        names.sort();
        self.names = names;
        self
    }

    /// The name of every family this process can export.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics not encoded");
        }
        out
    }

    /// Counts a notice read by `mailbox`.
    pub fn notice(&self, mailbox: &str, kind: &str) {
        self.notices.with_label_values(&[mailbox, kind]).inc();
        self.last_notice
            .with_label_values(&[mailbox])
            .set(crate::store::now());
    }

    /// Counts a verdict reached for `mailbox`.
    pub fn verdict(&self, mailbox: &str, cause: &str, action: &str) {
        self.verdicts.with_label_values(&[mailbox, cause, action]).inc();
    }

    /// Counts a message `mailbox` skipped, and why.
    pub fn skip(&self, mailbox: &str, reason: &str) {
        self.skipped.with_label_values(&[mailbox, reason]).inc();
    }

    /// Counts something under one fixed word (`sent`, `send_failures`, `held`, `dns_queries`).
    pub fn count(vec: &IntCounterVec, word: &str) {
        vec.with_label_values(&[word]).inc();
    }

    /// Marks `mailbox` watching (true) or not. A forgotten mailbox comes back only when it
    /// watches again.
    pub fn set_up(&self, mailbox: &str, up: bool) {
        let mut state = self.up.lock().unwrap_or_else(|p| p.into_inner());
        let (known, forgotten) = &mut *state;
        if !up && forgotten.contains(mailbox) {
            return;
        }
        forgotten.remove(mailbox);
        known.insert(mailbox.to_string(), up);
        self.mailbox_up.with_label_values(&[mailbox]).set(i64::from(up));
    }

    /// Whether `mailbox` is watching.
    pub fn is_up(&self, mailbox: &str) -> bool {
        let state = self.up.lock().unwrap_or_else(|p| p.into_inner());
        state.0.get(mailbox).copied().unwrap_or(false)
    }

    /// Forgets a mailbox that is no longer configured: every series labelled with it goes.
    pub fn forget(&self, mailbox: &str) {
        {
            let mut state = self.up.lock().unwrap_or_else(|p| p.into_inner());
            state.0.remove(mailbox);
            state.1.insert(mailbox.to_string());
        }
        for vec in [
            &self.imap_reconnects,
            &self.notices,
            &self.verdicts,
            &self.skipped,
        ] {
            forget_in(vec, mailbox);
        }
        for vec in [&self.mailbox_up, &self.last_notice] {
            forget_in(vec, mailbox);
        }
    }
}

/// Removes every series of `vec` whose `mailbox` label is `mailbox`.
fn forget_in<P: prometheus::core::MetricVecBuilder>(vec: &prometheus::core::MetricVec<P>, mailbox: &str) {
    use prometheus::core::Collector;
    for family in vec.collect() {
        for metric in family.get_metric() {
            let labels: std::collections::HashMap<&str, &str> =
                metric.get_label().iter().map(|l| (l.name(), l.value())).collect();
            if labels.get("mailbox") == Some(&mailbox) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

/// What `/readyz` looks at: the mailboxes that should be watching, and the state.
pub struct Health {
    /// The configured mailboxes (replaced on reload).
    pub mailboxes: std::sync::Mutex<Vec<String>>,
    /// The `mailboxes_dir` files refused, and why (replaced on reload).
    pub refused: std::sync::Mutex<Vec<String>>,
    /// The state database.
    pub state: crate::store::State,
    /// The last write probe: when, and what it found (reused for [`PROBE_FOR`]).
    pub probed: std::sync::Mutex<Option<(std::time::Instant, Option<String>)>>,
}

/// How long one write probe of the state answers `/readyz` (a scraper polling it does not
/// make the database work for every request).
pub const PROBE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

impl Health {
    /// Why the daemon is not ready (empty: ready): mailboxes not watching, a state that cannot
    /// be written.
    pub async fn problems(&self) -> Vec<String> {
        let names = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out: Vec<String> = names
            .iter()
            .filter(|n| !get().is_up(n))
            .map(|n| format!("mailbox {n}: not signed in and watching"))
            .collect();
        for why in self.refused.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.push(format!("mailbox file refused: {why}"));
        }
        let cached = self
            .probed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|(at, _)| at.elapsed() < PROBE_FOR);
        let failure = match cached {
            Some((_, failure)) => failure,
            None => {
                let now = crate::store::now();
                let failure = self
                    .state
                    .run(move |s| s.probe_write(now))
                    .await
                    .err()
                    .map(|e| e.to_string());
                *self.probed.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((std::time::Instant::now(), failure.clone()));
                failure
            }
        };
        if let Some(e) = failure {
            out.push(format!("state: cannot be written ({e})"));
        }
        out
    }

    /// Sets the outbox gauges from the state (at each scrape).
    async fn refresh_outbox(&self) {
        if let Ok(q) = self.state.run(|s| s.queue_summary()).await {
            let m = get();
            m.outbox_queued.set(i64::try_from(q.queued).unwrap_or(i64::MAX));
            m.outbox_oldest
                .set(q.oldest.map_or(0, |t| (crate::store::now() - t).max(0)));
        }
    }
}

/// Most connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// One answer: `/metrics`, `/livez`, `/readyz`; 404 otherwise, 405 for anything but GET/HEAD.
async fn answer(
    health: &Health,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    use hyper::{Method, StatusCode};
    let (status, content_type, body) = if !matches!(*req.method(), Method::GET | Method::HEAD) {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET only\n".to_string(),
        )
    } else {
        match req.uri().path() {
            "/metrics" => {
                health.refresh_outbox().await;
                (StatusCode::OK, prometheus::TEXT_FORMAT, get().encode())
            }
            "/livez" => (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".to_string()),
            "/readyz" => {
                let problems = health.problems().await;
                if problems.is_empty() {
                    (StatusCode::OK, "text/plain; charset=utf-8", "ready\n".to_string())
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain; charset=utf-8",
                        format!("not ready:\n{}\n", problems.join("\n")),
                    )
                }
            }
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n".to_string(),
            ),
        }
    };
    let mut response = hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Serves `/metrics`, `/livez` and `/readyz` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: std::sync::Arc<Health>,
    mut shutdown: tokio::sync::broadcast::Receiver<()>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.recv() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let health = health.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let health = health.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&health, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        let m = get();
        m.notice("alice", "delayed");
        m.verdict("alice", "recipient_domain", "reply_user");
        m.set_up("alice", true);
        let text = m.encode();
        for name in [
            "bouncedoc_build_info{version=",
            "bouncedoc_mailbox_up{mailbox=\"alice\"} 1",
            "bouncedoc_notices_total{kind=\"delayed\",mailbox=\"alice\"}",
            "bouncedoc_verdicts_total{action=\"reply_user\",cause=\"recipient_domain\",mailbox=\"alice\"}",
            "bouncedoc_last_notice_timestamp_seconds{mailbox=\"alice\"}",
            "# TYPE bouncedoc_diagnosis_duration_seconds histogram",
            "# TYPE bouncedoc_outbox_queued gauge",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }
        assert!(m.is_up("alice"));
        m.forget("alice");
        assert!(!m.is_up("alice"));
        // Its series are gone, and a late "not watching" does not bring one back.
        m.set_up("alice", false);
        let text = m.encode();
        assert!(!text.contains("mailbox=\"alice\""), "{text}");
        m.set_up("alice", true);
        assert!(m.encode().contains("bouncedoc_mailbox_up{mailbox=\"alice\"} 1"));
    }
}
