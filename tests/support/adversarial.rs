//! The adversarial corpus of issue 10, made by code (no megabyte files in the repository):
//! each [`Case`] is one or more hostile emails from a stranger; tests/adversarial.rs and
//! benches/adversarial.rs append each case to a real Dovecot followed by an ordinary email
//! ([`ordinary`]) and run the real intake.

use super::harness::SUPPORT;

/// One case: a name and the messages it appends, in order.
pub struct Case {
    pub name: &'static str,
    pub make: fn() -> Vec<Vec<u8>>,
}

/// Every case of the corpus.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "nul_bytes",
            make: nul_bytes,
        },
        Case {
            name: "from_10kb",
            make: from_10kb,
        },
        Case {
            name: "subject_1mb",
            make: subject_1mb,
        },
        Case {
            name: "references_100k",
            make: references_100k,
        },
        Case {
            name: "ids_1m_in_body",
            make: ids_1m_in_body,
        },
        Case {
            name: "html_100k_deep",
            make: html_100k_deep,
        },
        Case {
            name: "mime_parts_10k",
            make: mime_parts_10k,
        },
        Case {
            name: "rfc822_nested_1000",
            make: rfc822_nested_1000,
        },
        Case {
            name: "attachments_25mb_x3",
            make: attachments_25mb_x3,
        },
        Case {
            name: "invalid_utf8_headers",
            make: invalid_utf8_headers,
        },
        Case {
            name: "bare_cr",
            make: bare_cr,
        },
        Case {
            name: "header_lines_1mb",
            make: header_lines_1mb,
        },
        Case {
            name: "mention_link_injection",
            make: mention_link_injection,
        },
    ]
}

/// The case named `name`.
pub fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no adversarial case {name}"))
}

/// Message-ID (without brackets) of the ordinary email that follows case `name`.
pub fn ordinary_id(name: &str) -> String {
    format!("ordinary-{name}@customer.example")
}

/// The ordinary customer email that follows case `name`.
pub fn ordinary(name: &str) -> Vec<u8> {
    format!(
        "From: Olga <olga@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Invoice question after {name}\r\n\
         Message-ID: <{}>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, my invoice is wrong.\r\n",
        ordinary_id(name)
    )
    .into_bytes()
}

/// A stranger's email: `headers` (CRLF-terminated lines) after From/To/Message-ID, then
/// `body`.
fn stranger(id: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Mallory <mallory@stranger.example>\r\nTo: {SUPPORT}\r\nMessage-ID: <{id}@stranger.example>\r\n\
         Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n{headers}\r\n{body}"
    )
    .into_bytes()
}

fn nul_bytes() -> Vec<Vec<u8>> {
    let mut raw = stranger("nul", "Subject: nul\0in\0subject\r\nX-Nul: a\0b\r\n", "");
    for _ in 0..1000 {
        raw.extend_from_slice(b"text\0with\0NUL bytes\r\n");
    }
    vec![raw]
}

fn from_10kb() -> Vec<Vec<u8>> {
    let local = "a".repeat(10 * 1024);
    vec![format!(
        "From: \"{}\" <{local}@stranger.example>\r\nTo: {SUPPORT}\r\nSubject: long From\r\n\
         Message-ID: <from10k@stranger.example>\r\n\r\nhi\r\n",
        "N".repeat(1024)
    )
    .into_bytes()]
}

fn subject_1mb() -> Vec<Vec<u8>> {
    // Folded every 76 characters, as a long subject legitimately is (RFC 5322 §2.2.3).
    let words: Vec<String> = (0..1024 * 1024 / 76).map(|_| "s".repeat(75)).collect();
    vec![stranger(
        "subject1mb",
        &format!("Subject: {}\r\n", words.join("\r\n ")),
        "body\r\n",
    )]
}

fn references_100k() -> Vec<Vec<u8>> {
    let refs: Vec<String> = (0..100_000)
        .map(|i| format!("<r{i}@thread.example>"))
        .collect();
    vec![stranger(
        "refs100k",
        &format!(
            "Subject: Re: long thread\r\nIn-Reply-To: <r99999@thread.example>\r\nReferences: {}\r\n",
            refs.join("\r\n ")
        ),
        "reply\r\n",
    )]
}

fn ids_1m_in_body() -> Vec<Vec<u8>> {
    let mut body = String::with_capacity(30_000_000);
    for i in 0..1_000_000 {
        body.push_str(&format!("Message-ID: <b{i}@x.example>\r\n"));
    }
    vec![stranger("ids1m", "Subject: ids\r\n", &body)]
}

fn html_100k_deep() -> Vec<Vec<u8>> {
    let html = format!(
        "{}deep{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    vec![stranger(
        "html100k",
        "Subject: deep html\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n",
        &html,
    )]
}

fn mime_parts_10k() -> Vec<Vec<u8>> {
    let mut body = String::from("--b\r\nContent-Type: text/plain\r\n\r\nmany parts\r\n");
    for i in 0..10_000 {
        body.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream; name=\"p{i}.bin\"\r\n\r\npart {i}\r\n"
        ));
    }
    body.push_str("--b--\r\n");
    vec![stranger(
        "parts10k",
        "Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n",
        &body,
    )]
}

fn rfc822_nested_1000() -> Vec<Vec<u8>> {
    let mut inner = String::new();
    for i in 0..1000 {
        inner.push_str(&format!(
            "From: n{i}@nest.example\r\nMessage-ID: <n{i}@nest.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: message/rfc822\r\n\r\n"
        ));
    }
    inner.push_str("From: last@nest.example\r\nSubject: core\r\n\r\ncore\r\n");
    vec![stranger(
        "nested1000",
        "Subject: nested\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n",
        &inner,
    )]
}

fn attachments_25mb_x3() -> Vec<Vec<u8>> {
    (0..3)
        .map(|k| {
            // 25 MB of base64 text (line length 76), about 18.75 MB decoded.
            let line = "QUJDRA".repeat(12) + "QUJD";
            let mut b64 = String::with_capacity(26_000_000);
            while b64.len() < 25_000_000 {
                b64.push_str(&line);
                b64.push_str("\r\n");
            }
            let body = format!(
                "--b\r\nContent-Type: text/plain\r\n\r\nlogs attached\r\n--b\r\n\
                 Content-Type: application/octet-stream; name=\"dump{k}.bin\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{b64}--b--\r\n"
            );
            stranger(
                &format!("big{k}"),
                "Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n",
                &body,
            )
        })
        .collect()
}

fn invalid_utf8_headers() -> Vec<Vec<u8>> {
    let mut raw = Vec::new();
    for (name, value) in [
        ("From", &b"\xff\xfe Mal\xc3 <mallory@stranger.example>"[..]),
        ("To", b"\xfe\xff <support@claimdesk.test>"),
        ("Subject", b"\xc3\x28 bad \xe2\x82 utf-8 \xf0\x9f"),
        ("Message-ID", b"<inv\xffalid@stranger.example>"),
        ("In-Reply-To", b"<\xff@\xfe>"),
        ("References", b"<a\xff@b> <ok@b.example>"),
        ("Date", b"\xff\xff"),
        ("Content-Type", b"text/plain; charset=\"\xff\""),
        ("X-Anything", b"\x80\x81\x82"),
    ] {
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\nbody \xff\xfe\r\n");
    vec![raw]
}

fn bare_cr() -> Vec<Vec<u8>> {
    vec![format!(
        "From: Mallory <mallory@stranger.example>\rTo: {SUPPORT}\rSubject: bare CR\r\
         Message-ID: <barecr@stranger.example>\r\rline one\rline two\r"
    )
    .into_bytes()]
}

fn header_lines_1mb() -> Vec<Vec<u8>> {
    let long = "h".repeat(1024 * 1024);
    vec![stranger(
        "lines1mb",
        &format!("Subject: long lines\r\nX-Filler: {long}\r\nReceived: from {long}\r\nList-Id: <{long}>\r\n"),
        "body\r\n",
    )]
}

fn mention_link_injection() -> Vec<Vec<u8>> {
    vec![stranger(
        "inject",
        "Subject: <!channel> @everyone <https://evil.example|https://bank.example>\r\n",
        "[click](https://evil.example) <!here> @here <@U000000ANA> <https://evil.example|Your bank>\r\n",
    )]
}
