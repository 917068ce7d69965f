//! A tool for looking at what people read: composes the user's reply, the Support package and
//! the weekly digest from the sample notice, writes their HTML parts to `target/screenshots/`,
//! and has headless Chromium take a picture of each at a phone's width (390 px) and a desktop's
//! (1280 px). The pictures stay out of the repository (target/ is ignored).
//!
//! `cargo run --example screenshots` (needs `chromium`: `apt install chromium`).

use bouncedoc::compose::{self, words::Clock, Context};
use bouncedoc::diagnose::{Finding, Found, OurListing, Routing, TheirListing};
use bouncedoc::store::{DigestItems, DigestLine};
use bouncedoc::{notice, verdict};
use std::path::{Path, PathBuf};
use std::process::Command;

fn html_of(raw: &[u8]) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("the composed message parses");
    m.body_html(0).expect("an HTML part").to_string()
}

fn shoot(chromium: &str, html: &Path, png: &Path, width: u32) {
    let url = format!("file://{}", html.display());
    let status = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--window-size={width},1600"),
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{chromium}: {e} (apt install chromium)"));
    assert!(
        status.status.success(),
        "{chromium} failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    println!("{}", png.display());
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out: PathBuf = root.join("target/screenshots");
    std::fs::create_dir_all(&out).expect("target/screenshots");
    let raw = std::fs::read(root.join("examples/exchange-delay.eml")).expect("the sample notice");
    let n = notice::read(&raw).expect("the sample notice reads");
    let thread = Vec::new();
    let now = 1_795_590_003; // Wed 25 Nov 2026, 07:00 UTC
    let ctx = Context {
        bot_name: Some("bouncedoc"),
        bot_address: "bouncedoc@northwind.example",
        user: "maria@northwind.example",
        reply_to: "bouncedoc@northwind.example",
        support: "support@northwind.example",
        notice_raw: &raw,
        notice_message_id: Some("5c1e0a7b2d4f@MBX02.northwind.example"),
        thread: &thread,
        clock: Clock::in_zone(Some("Europe/Paris"), now),
        lang: compose::Lang::En,
    };
    let reply_findings = vec![
        Finding::new(
            Found::RecipientDomain(Routing::Ok),
            "harbor-freight.example",
            "mail servers: mail.harbor-freight.example (preference 10: 198.51.100.23)",
        ),
        Finding::new(
            Found::RecipientListed(TheirListing::Listed),
            "198.51.100.23",
            "198.51.100.23 is listed on zen.spamhaus.org (127.0.0.2: https://check.spamhaus.org/)",
        ),
    ];
    let v = verdict::decide(&reply_findings);
    let reply = compose::user_reply(&ctx, &n, &reply_findings, &v).expect("reply");

    let package_findings = vec![
        Finding::new(
            Found::RecipientDomain(Routing::Ok),
            "harbor-freight.example",
            "mail servers: mail.harbor-freight.example (preference 10: 198.51.100.23)",
        ),
        Finding::new(
            Found::SenderListed(OurListing::Listed),
            "203.0.113.77",
            "203.0.113.77 is listed on zen.spamhaus.org (127.0.0.2: https://check.spamhaus.org/)",
        ),
    ];
    let pv = verdict::decide(&package_findings);
    let json = compose::diagnosis_json("notice.eml", &n, &package_findings, &pv, &ctx.clock).to_string();
    let package = compose::support_package(&ctx, &n, &package_findings, &pv, &json).expect("package");

    let line = |subject: &str, to: &str, cause: &str, days: i64| DigestLine {
        subject: subject.into(),
        recipient: to.into(),
        verdict: format!("reply_user/{cause}"),
        last_notice: now - days * 86_400,
    };
    let items = DigestItems {
        notices: 7,
        open: vec![
            line(
                "Quarterly figures",
                "tom@harbor-freight.example",
                "recipient_listed",
                0,
            ),
            line("Invoice 2211", "ap@contoso.example", "unexplained", 1),
        ],
        failed: vec![line(
            "Re: visit on Monday",
            "k.ito@nowhere.example",
            "recipient_domain",
            3,
        )],
        resolved: vec![line("Slides", "bob@partner.example", "unexplained", 6)],
    };
    let digest = compose::digest(&ctx, &items, now - 7 * 86_400).expect("digest");

    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    for (name, raw) in [
        ("reply", &reply.raw),
        ("package", &package.raw),
        ("digest", &digest.raw),
    ] {
        let html = out.join(format!("{name}.html"));
        std::fs::write(&html, html_of(raw)).expect("write html");
        for (device, width) in [("phone", 390), ("desktop", 1280)] {
            shoot(&chromium, &html, &out.join(format!("{name}-{device}.png")), width);
        }
    }
}
