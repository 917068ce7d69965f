//! Hostile message shapes: what an attacker who can put mail in a watched mailbox would send
//! to make a reader slow. Each shape repeats one reader's favourite token until the message has
//! the asked size, inside a message that looks enough like a notice (or a reply to the bot) to
//! reach that reader. Used by `tests/hostile.rs` (through `bouncedoc parse` and the daemon) and
//! `benches/hostile.rs` (time per MB at 256 KB, 2 MB and 8 MB).
#![allow(dead_code)]

/// Every shape's name, in the order the benchmark prints them.
pub const SHAPES: &[&str] = &[
    "dsn-dotted-codes",
    "dsn-decoy-codes",
    "dsn-units",
    "text-dotted-codes",
    "text-units",
    "html-style-tags",
    "html-style-pairs",
    "html-script-tags",
    "html-amps",
    "html-entities",
    "bracketed-ips",
    "client-distinct-ips",
    "received-open-parens",
    "received-open-brackets",
    "received-distinct-ips",
    "dsn-remote-parens",
    "host-open-bracket",
    "host-open-bracket-recipients",
    "exchange-remote-lines",
    "exchange-parens-recipients",
    "many-recipients-text",
    "addresses",
    "candidate-dups",
    "angle-addresses",
    "huge-address",
    "failed-recipients-header",
    "failed-recipients-long-line",
    "quotes",
    "encoded-words",
    "subject-word-starts",
    "subject-word-far-end",
    "encoded-word-starts",
    "nested-multiparts",
    "many-parts",
    "dsn-recipients",
    "references",
    "references-repeated",
    "header-lines",
    "folded-header",
    "long-line",
    "cut-phrases-one-line",
    "quoted-markers-one-line",
    "quoted-reply",
    "foreign-reply-html",
    "retry-periods",
    "original-headers",
    "localized-label-lines",
    "localized-periods-one-line",
    "cjk-periods-one-line",
    "brackets-before-quote",
];

/// A message of about `size` bytes (never less) in shape `name`.
///
/// # Panics
/// On an unknown shape name (a test bug).
pub fn message(name: &str, size: usize) -> Vec<u8> {
    let fill = |unit: &str| -> String {
        let n = size / unit.len() + 1;
        unit.repeat(n)
    };
    let dsn = |status_block: &str, text: &str| -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delayed Mail (still being retried)\r\nMessage-ID: <hostile-{name}@mx.example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n{status_block}\r\n--B--\r\n"
        )
        .into_bytes()
    };
    let exchange_notice = |text: &str| -> Vec<u8> {
        format!(
            "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example>\r\nTo: alice@corp.example\r\nSubject: =?utf-8?q?Remise_diff=C3=A9r=C3=A9e_=3A_Devis?=\r\nContent-Language: fr-FR\r\nX-MS-Exchange-Message-Is-Ndr:\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLa remise à ces destinataires ou groupes est différée :\r\n\r\nbob@partner.example\r\n\r\n{text}\r\n"
        )
        .into_bytes()
    };
    let text_notice = |body: &str| -> Vec<u8> {
        format!(
            "From: postmaster@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delivery delayed: hello\r\nMessage-ID: <hostile-{name}@mx.example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDelivery is delayed to these recipients or groups:\r\n\r\nbob@partner.example\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    };
    let html_notice = |body: &str| -> Vec<u8> {
        format!(
            "From: postmaster@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delivery delayed: hello\r\nMessage-ID: <hostile-{name}@mx.example.net>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Delivery is delayed to these recipients or groups: bob@partner.example</p>{body}</body></html>\r\n"
        )
        .into_bytes()
    };
    let reply = |headers: &str, body: &str| -> Vec<u8> {
        format!(
            "From: alice@example.com\r\nTo: bouncedoc@example.com\r\nSubject: Re: Delayed: hello\r\nMessage-ID: <reply-{name}@example.com>\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    };
    let headers_part = |block: &str| -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delayed Mail (still being retried)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelayed.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; bob@partner.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{block}Message-ID: <o@example.com>\r\nFrom: alice@example.com\r\nSubject: =?utf-8?q?hi?=\r\n\r\n--B--\r\n"
        )
        .into_bytes()
    };
    let subject_notice = |subject: &str| -> Vec<u8> {
        format!(
            "From: postmaster@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delivery delayed: {subject}\r\nContent-Type: text/plain\r\n\r\nDelivery is delayed to these recipients or groups: bob@partner.example\r\nRemote Server returned '400 4.4.7 Message delayed'\r\n"
        )
        .into_bytes()
    };
    // `n` DSN recipient blocks (each with `fields`), and a text line naming each.
    let recipients = |n: usize, fields: &str| -> (String, String) {
        let mut blocks = String::new();
        let mut names = String::new();
        for i in 0..n {
            blocks.push_str(&format!(
                "Final-Recipient: rfc822; u{i}@d{i}.example\r\nAction: delayed\r\n{fields}\r\n"
            ));
            names.push_str(&format!("contact u{i}@d{i}.example\r\n"));
        }
        (blocks, names)
    };
    let recipient = "Final-Recipient: rfc822; bob@partner.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n";
    match name {
        "dsn-dotted-codes" => dsn(
            &format!("{recipient}Diagnostic-Code: smtp; {}5.1.1", fill("5.1.1.1 ")),
            "Delayed.",
        ),
        "text-dotted-codes" => text_notice(&format!("{}5.1.1", fill("4.4.7.1 5.1.1.2 "))),
        "codes-with-units" => text_notice(&fill("4.4.7 1 days 5.1.1 2 hours ")),
        "html-style-tags" => html_notice(&fill("<style>")),
        "html-script-tags" => html_notice(&fill("<script>a</script><STYLE>")),
        "html-entities" => html_notice(&fill("&amp;&#x41;&lt;&#999999999;&")),
        "bracketed-ips" => text_notice(&fill("[192.0.2.1] (198.51.100.2) ")),
        "exchange-remote-lines" => text_notice(&fill(
            "Remote Server at mx.partner.example (192.0.2.25) returned '400 4.4.7 Message delayed'\r\n",
        )),
        "addresses" => text_notice(&fill("bob@partner.example, ")),
        "angle-addresses" => text_notice(&fill("<a@b.example><")),
        "quotes" => text_notice(&fill("'\"")),
        "encoded-words" => {
            let mut m = format!(
                "From: postmaster@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delivery delayed:{}\r\nContent-Type: text/plain\r\n\r\nDelivery is delayed to these recipients or groups: bob@partner.example\r\n",
                fill(" =?utf-8?q?a=C3=A9?=\r\n")
            );
            m.push_str("Remote Server returned '400 4.4.7 Message delayed'\r\n");
            m.into_bytes()
        }
        "encoded-word-starts" => reply(
            &format!("In-Reply-To: <x@y>\r\nX-Filler:{}\r\n", fill(" =?=?=?utf-8?q?")),
            "support",
        ),
        "nested-multiparts" => {
            let mut head = String::from(
                "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
            );
            let mut level = 0usize;
            while head.len() < size {
                level += 1;
                head.push_str(&format!(
                    "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n",
                    level - 1
                ));
            }
            let mut m = head;
            m.push_str(&format!("--b{level}\r\nContent-Type: text/plain\r\n\r\nbob@partner.example: 550 5.1.1 unknown\r\n"));
            for l in (0..=level).rev() {
                m.push_str(&format!("--b{l}--\r\n"));
            }
            m.into_bytes()
        }
        "many-parts" => {
            let parts = fill("--B\r\nContent-Type: text/plain\r\n\r\n4.4.7 bob@partner.example\r\n");
            format!(
                "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delayed Mail (still being retried)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n{parts}--B--\r\n"
            )
            .into_bytes()
        }
        "dsn-recipients" => {
            let mut n = 0usize;
            let mut blocks = String::new();
            while blocks.len() < size {
                n += 1;
                blocks.push_str(&format!(
                    "Final-Recipient: rfc822; user{n}@d{n}.example\r\nAction: delayed\r\nStatus: 4.4.7\r\nRemote-MTA: dns; mx{n}.d{n}.example\r\nDiagnostic-Code: smtp; 451 4.4.7 try again [192.0.2.{}]\r\n\r\n",
                    n % 250
                ));
            }
            dsn(&blocks, "Delayed.")
        }
        "references" => {
            let mut ids = String::new();
            let mut n = 0usize;
            while ids.len() < size {
                n += 1;
                ids.push_str(&format!(" <id{n}@bouncedoc.example>\r\n"));
            }
            reply(&format!("In-Reply-To: <id1@bouncedoc.example>\r\nReferences:{ids}"), "support")
        }
        "references-repeated" => reply(
            &format!("References:{}\r\n", fill(" <same@bouncedoc.example>")),
            "mute",
        ),
        "header-lines" => {
            let mut m = fill("X-Filler: a\r\n");
            m.insert_str(0, "From: postmaster@mx.example.net\r\nTo: alice@example.com\r\n");
            m.push_str("Subject: Delivery delayed: hello\r\n\r\nbob@partner.example 4.4.7\r\n");
            m.into_bytes()
        }
        "folded-header" => {
            let mut m = String::from("From: postmaster@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delivery delayed:");
            m.push_str(&fill("\r\n a"));
            m.push_str("\r\n\r\nbob@partner.example 4.4.7\r\n");
            m.into_bytes()
        }
        "long-line" => text_notice(&fill("a")),
        "quoted-reply" => reply(
            "In-Reply-To: <x@bouncedoc.example>\r\n",
            &format!("{}\r\nsupport\r\n", fill("> On Mon, alice wrote:\r\n")),
        ),
        // Exchange in other languages: read by shape, under Exchange's headers.
        "localized-label-lines" => exchange_notice(&fill(
            "Serveur de réception : mx.partner.example (192.0.2.25)\r\nServeur de génération : EX01.corp.example\r\n",
        )),
        "localized-periods-one-line" => exchange_notice(&fill("1 jours, 19 heures et 58 minutes 1 ")),
        "cjk-periods-one-line" => exchange_notice(&fill("1日19時間58分1日")),
        "brackets-before-quote" => exchange_notice(&(fill("mx (192.0.2.1) [") + "'400 4.4.7 Message delayed'\r\n")),
        "retry-periods" => text_notice(&fill(
            "for the next 1 days, 19 hours and 58 minutes 1 days, ",
        )),
        "original-headers" => {
            let block = fill("Received: from a ([192.0.2.7]) by b\r\n");
            format!(
                "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Delayed Mail (still being retried)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelayed.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n{recipient}\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{block}Message-ID: <o@example.com>\r\nFrom: alice@example.com\r\n\r\n--B--\r\n"
            )
            .into_bytes()
        }
        "dsn-decoy-codes" => dsn(
            &format!("{recipient}Diagnostic-Code: smtp; {} 550 5.1.1 end", fill("x5.1.1 ")),
            "Delayed.",
        ),
        "dsn-units" => dsn(
            &format!("{recipient}Diagnostic-Code: smtp; {}", fill("450 minutes ")),
            "Delayed.",
        ),
        "text-units" => text_notice(&fill("450 minutes ")),
        "html-style-pairs" => html_notice(&fill("<style></style><SCRIPT>a</script>")),
        "html-amps" => html_notice(&fill("&")),
        "client-distinct-ips" => {
            let mut body = String::from("451 4.7.1 Service unavailable; Client host ");
            let mut i = 0u32;
            while body.len() < size {
                i += 1;
                body.push_str(&format!("[1.{}.{}.{}] blocked using zen.spamhaus.org; ", (i >> 16) & 255, (i >> 8) & 255, i & 255));
            }
            text_notice(&body)
        }
        "received-open-parens" => headers_part(&format!("Received: from a {}\r\n", fill("("))),
        "received-open-brackets" => headers_part(&format!("Received: from a {}\r\n", fill("["))),
        "received-distinct-ips" => {
            let mut h = String::from("Received: from a by b");
            let mut i = 0u32;
            while h.len() < size {
                i += 1;
                h.push_str(&format!(" [1.{}.{}.{}]", (i >> 16) & 255, (i >> 8) & 255, i & 255));
            }
            h.push_str("\r\n");
            headers_part(&h)
        }
        "dsn-remote-parens" => dsn(&format!("{recipient}Remote-MTA: dns; {}\r\n", fill("(")), "Delayed."),
        "host-open-bracket" => dsn(
            &format!("{recipient}Diagnostic-Code: smtp; {}", fill("host a[")),
            "Delayed.",
        ),
        "host-open-bracket-recipients" => {
            let (blocks, names) = recipients(1000, "Status: 4.4.7\r\n");
            dsn(&blocks, &format!("{names}\r\n{}", fill("host a[")))
        }
        "exchange-parens-recipients" => {
            let (blocks, names) = recipients(1000, "Status: 4.4.7\r\n");
            dsn(&blocks, &format!("{names}\r\nReceiving server: {}", fill("(")))
        }
        "many-recipients-text" => {
            let (blocks, names) = recipients(1000, "Status: 5.0.0\r\n");
            dsn(&blocks, &format!("{names}\r\n{}", fill("From: 550 x\r\n")))
        }
        "candidate-dups" => {
            let mut body = String::new();
            for i in 0..999 {
                body.push_str(&format!("aaaaaaaa{i:04}@b.example\r\n"));
            }
            while body.len() < size {
                body.push_str("aaaaaaaa0998@b.example\r\n");
            }
            text_notice(&body)
        }
        "huge-address" => dsn(
            &format!("Final-Recipient: rfc822; {}@partner.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n", fill("b")),
            "Delayed.",
        ),
        "failed-recipients-header" => {
            let mut list = String::new();
            let mut i = 0u32;
            while list.len() < size {
                i += 1;
                list.push_str(&format!(" u{i}@d{i}.example,"));
            }
            format!(
                "From: mailer-daemon@googlemail.com\r\nTo: alice@example.com\r\nSubject: Delivery Status Notification (Delay)\r\nX-Failed-Recipients:{list}\r\nContent-Type: text/plain\r\n\r\nDelivery to the following recipient has been delayed: bob@partner.example\r\n"
            )
            .into_bytes()
        }
        // Found by the fuzzer: a thousand recipients, each asking for the paragraph of one
        // huge line.
        "failed-recipients-long-line" => {
            let list: Vec<String> = (0..1000).map(|i| format!("u{i}@d{i}.example")).collect();
            format!(
                "From: mailer-daemon@googlemail.com\r\nTo: alice@example.com\r\nSubject: Delivery Status Notification (Delay)\r\nX-Failed-Recipients: {}\r\nContent-Type: text/plain\r\n\r\nDelivery to the following recipients has been delayed.\r\n\r\n{}\r\n",
                list.join(", "),
                fill("450 minutes ")
            )
            .into_bytes()
        }
        "subject-word-starts" => subject_notice(&fill("=?a?q?x ")),
        "subject-word-far-end" => subject_notice(&format!("{}?=", fill("=?a?q?b "))),
        "cut-phrases-one-line" => text_notice(&format!("x{}", fill("original message "))),
        "quoted-markers-one-line" => format!(
            "From: bob@partner.example\r\nTo: alice@example.com\r\nSubject: hello\r\nContent-Type: text/plain\r\n\r\n> {}\r\n",
            fill("550 ")
        )
        .into_bytes(),
        "foreign-reply-html" => format!(
            "From: stranger@evil.example\r\nTo: alice@example.com\r\nSubject: Re: hi\r\nIn-Reply-To: <nothing@bouncedoc.example>\r\nContent-Type: text/html\r\n\r\n{}\r\n",
            fill("<style></style>&<a")
        )
        .into_bytes(),
        other => panic!("unknown hostile shape {other}"),
    }
}
