//! The DMARC verdict our own receiving server wrote into `Authentication-Results` header
//! fields (RFC 8601), for deciding whether a From address may be trusted for a subject tag or
//! plus-address (`intake.trust_authentication_results`). Pure code over the raw header
//! section.
//!
//! Which fields count (RFC 8601 §5, §7.1): only those whose authserv-id equals the configured
//! one exactly (compared case-insensitively, as it is a domain name); all others — another
//! server's, a sender's, Microsoft's that carry no authserv-id at all — are ignored. Of ours,
//! only the topmost one that reports a `dmarc` result decides, because an MTA prepends its
//! fields above what the message arrived with: a field below ours, even with our authserv-id,
//! may have been written by the sender. The receiving server must therefore evaluate DMARC on
//! every message (and should, as RFC 8601 §5 asks, remove fields claiming its authserv-id).

/// A method result in one `Authentication-Results` field (RFC 8601 §2.2 `resinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// The method, lower case, without version: `dmarc`, `dkim`, `spf`, `auth`, …
    pub method: String,
    /// The result, lower case: `pass`, `fail`, `none`, `temperror`, …
    pub result: String,
    /// `ptype.property=value` pairs, keys lower case (`header.from`, `smtp.mailfrom`).
    pub props: Vec<(String, String)>,
}

/// One parsed `Authentication-Results` field body (RFC 8601 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id: the name of the server that did the checks.
    pub authserv_id: String,
    /// Its results, in order; empty for `none`.
    pub results: Vec<MethodResult>,
}

/// What our server said about DMARC for a message's From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dmarc {
    /// `dmarc=pass` for the message's From domain: the From is proven.
    Pass,
    /// `dmarc=fail`: the From is forged or broken; never trusted for tags.
    Fail,
    /// Anything else: no field of ours with a DMARC result, `none` (the domain publishes no
    /// policy), `temperror`, `permerror`, a `header.from` for another domain. Not proof.
    NotProven,
}

/// Removes RFC 5322 comments (nested, with quoted-pairs) outside quoted strings, and unfolds.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 || quoted => {
                let next = chars.next();
                if quoted {
                    out.push(c);
                    out.extend(next);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            '\r' | '\n' => out.push(' '),
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// Splits on `;` outside quoted strings.
fn split_resinfo(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// Parses an `Authentication-Results` field body (the text after the colon, folded or not).
/// `None` when it has no authserv-id (e.g. Microsoft's form that starts with `spf=`) or is
/// empty. Unknown or malformed results are skipped, never guessed.
pub fn parse(value: &str) -> Option<AuthResults> {
    let clean = strip_comments(value);
    let mut parts = split_resinfo(&clean).into_iter();
    let head = parts.next()?.trim();
    // authserv-id [ CFWS authres-version ]
    let id = head.split_whitespace().next()?;
    if id.contains('=') {
        return None;
    }
    let authserv_id = unquote(id);
    if authserv_id.is_empty() {
        return None;
    }
    let mut results = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some(first) = words.next() else { continue };
        // methodspec: method [ "/" version ] "=" result, possibly spaced around "=".
        let spec: String = if first.ends_with('=') {
            format!("{first}{}", words.next().unwrap_or(""))
        } else if let Some(next) = words.clone().next().filter(|w| w.starts_with('=')) {
            words.next();
            let tail = if next == "=" {
                words.next().unwrap_or("").to_string()
            } else {
                next[1..].to_string()
            };
            format!("{first}={tail}")
        } else {
            first.to_string()
        };
        let Some((method, result)) = spec.split_once('=') else {
            continue;
        };
        let method = method
            .split('/')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let result = result.trim().to_ascii_lowercase();
        if method.is_empty() || result.is_empty() || method == "none" {
            continue;
        }
        let props = words
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| k.contains('.'))
            .map(|(k, v)| (k.to_ascii_lowercase(), unquote(v)))
            .collect();
        results.push(MethodResult {
            method,
            result,
            props,
        });
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// The unfolded bodies of every `Authentication-Results` field in the header section of
/// `raw` (up to the first empty line), topmost first. Linear in the header size.
pub fn fields(raw: &[u8]) -> Vec<String> {
    const NAME: &[u8] = b"authentication-results:";
    let mut out: Vec<String> = Vec::new();
    let mut in_field = false;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_field {
                if let Some(last) = out.last_mut() {
                    last.push(' ');
                    last.push_str(String::from_utf8_lossy(line).trim());
                }
            }
            continue;
        }
        in_field = line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME);
        if in_field {
            out.push(
                String::from_utf8_lossy(&line[NAME.len()..])
                    .trim()
                    .to_string(),
            );
        }
    }
    out
}

/// The DMARC verdict of our server (`authserv_id`) on a message with header section `raw`
/// whose From address is in `from_domain` (see the module documentation for which field
/// decides). A `header.from` property naming another domain than `from_domain` is not proof.
pub fn dmarc(raw: &[u8], authserv_id: &str, from_domain: &str) -> Dmarc {
    for value in fields(raw) {
        let Some(ar) = parse(&value) else { continue };
        if !ar.authserv_id.eq_ignore_ascii_case(authserv_id.trim()) {
            continue;
        }
        let Some(r) = ar.results.iter().find(|r| r.method == "dmarc") else {
            continue;
        };
        let about_from = r
            .props
            .iter()
            .find(|(k, _)| k == "header.from")
            .is_none_or(|(_, v)| v.trim_start_matches('@').eq_ignore_ascii_case(from_domain));
        return match r.result.as_str() {
            "fail" => Dmarc::Fail,
            "pass" if about_from => Dmarc::Pass,
            _ => Dmarc::NotProven,
        };
    }
    Dmarc::NotProven
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(fields: &[&str]) -> Vec<u8> {
        let mut s = String::new();
        for f in fields {
            s.push_str(f);
            s.push_str("\r\n");
        }
        s.push_str("From: dana@customer.example\r\n\r\nbody\r\nAuthentication-Results: mx.desk.test; dmarc=pass\r\n");
        s.into_bytes()
    }

    #[test]
    fn parses_rfc_8601_appendix_b_examples() {
        // (field body, authserv-id, (method, result) in order)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let table: [Case; 6] = [
            ("example.org 1; none", "example.org", &[]),
            (
                "example.com; spf=pass smtp.mailfrom=example.net",
                "example.com",
                &[("spf", "pass")],
            ),
            (
                "example.com;\r\n  auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n  spf=pass smtp.mailfrom=example.net",
                "example.com",
                &[("auth", "pass"), ("spf", "pass")],
            ),
            (
                "example.com; sender-id=fail header.from=example.com;\r\n dkim=pass (good signature) header.d=example.com",
                "example.com",
                &[("sender-id", "fail"), ("dkim", "pass")],
            ),
            (
                "example.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net;\r\n dkim=fail reason=\"bad signature\" header.i=@newyork.example.com",
                "example.com",
                &[("dkim", "pass"), ("dkim", "fail")],
            ),
            (
                "\"quoted.example\" (comment; with = signs) 1; dmarc = fail (p=reject) header.from=evil.example",
                "quoted.example",
                &[("dmarc", "fail")],
            ),
        ];
        for (value, id, want) in table {
            let ar = parse(value).unwrap_or_else(|| panic!("parses: {value}"));
            assert_eq!(ar.authserv_id, id, "{value}");
            let got: Vec<(&str, &str)> = ar
                .results
                .iter()
                .map(|r| (r.method.as_str(), r.result.as_str()))
                .collect();
            assert_eq!(got, want, "{value}");
        }
    }

    #[test]
    fn gmail_and_microsoft_forms() {
        let gmail = "mx.google.com;\r\n       dkim=pass header.i=@customer.example header.s=s1 header.b=AbC;\r\n       spf=pass (google.com: domain of dana@customer.example designates 192.0.2.1 as permitted sender) smtp.mailfrom=dana@customer.example;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=customer.example";
        let ar = parse(gmail).expect("gmail");
        assert_eq!(ar.authserv_id, "mx.google.com");
        let d = ar
            .results
            .iter()
            .find(|r| r.method == "dmarc")
            .expect("dmarc");
        assert_eq!(d.result, "pass");
        assert_eq!(
            d.props,
            vec![("header.from".to_string(), "customer.example".to_string())]
        );
        // Exchange Online writes no authserv-id: never ours.
        let microsoft = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=customer.example; dkim=pass (signature was verified) header.d=customer.example;dmarc=pass action=none header.from=customer.example;compauth=pass reason=100";
        assert_eq!(parse(microsoft), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("   ;dmarc=pass"), None);
    }

    #[test]
    fn only_our_topmost_dmarc_result_decides() {
        let id = "mx.desk.test";
        let d = "customer.example";
        let table: [(&[&str], Dmarc); 10] = [
            (&["Authentication-Results: mx.desk.test; dmarc=pass header.from=customer.example"], Dmarc::Pass),
            (&["Authentication-Results: MX.Desk.Test;\r\n\tspf=pass smtp.mailfrom=customer.example;\r\n\tdmarc=pass (p=none) header.from=customer.example"], Dmarc::Pass),
            (&["Authentication-Results: mx.desk.test; dmarc=fail (p=reject) header.from=customer.example"], Dmarc::Fail),
            // A forged pass below ours does not override our fail …
            (&["Authentication-Results: mx.desk.test; dmarc=fail header.from=customer.example",
               "Received: from evil by mx.desk.test",
               "Authentication-Results: mx.desk.test; dmarc=pass header.from=customer.example"], Dmarc::Fail),
            // … and another server's pass is ignored.
            (&["Authentication-Results: mx.evil.example; dmarc=pass header.from=customer.example"], Dmarc::NotProven),
            (&["Authentication-Results: mx.evil.example; dmarc=pass",
               "Authentication-Results: mx.desk.test; dmarc=fail"], Dmarc::Fail),
            // Ours without DMARC (an SPF milter's field) is skipped for the next of ours.
            (&["Authentication-Results: mx.desk.test; spf=pass smtp.mailfrom=customer.example",
               "Authentication-Results: mx.desk.test; dmarc=pass header.from=customer.example"], Dmarc::Pass),
            (&["Authentication-Results: mx.desk.test; dmarc=none header.from=customer.example"], Dmarc::NotProven),
            (&["Authentication-Results: mx.desk.test; dmarc=pass header.from=other.example"], Dmarc::NotProven),
            (&[], Dmarc::NotProven),
        ];
        for (fields, want) in table {
            assert_eq!(dmarc(&head(fields), id, d), want, "{fields:?}");
        }
        // A field in the body is no header.
        assert_eq!(dmarc(&head(&[]), id, d), Dmarc::NotProven);
    }
}
