//! Loops and noise: which inbound messages are written by people and may get an automatic
//! answer, and which are automatic themselves — auto-replies (RFC 3834), delivery-status
//! reports (RFC 3464), feedback reports (ARF, RFC 5965) — and must never open a ticket or be
//! answered automatically.
//!
//! [`classify`] is a pure function of the header values and MIME facts that
//! `crate::intake::parse` extracts into [`Signals`]. Non-standard bouncers (the ~90 systems in
//! the shared corpus) are recognised by the signals they share: a MAILER-DAEMON / postmaster
//! sender, `X-Failed-Recipients`, or a null Return-Path together with a bounce subject or an
//! enclosed original message.

/// What the parser extracts for [`classify`]. All strings are as found, unfolded; header
/// names are case-insensitive (RFC 5322 §1.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// `Auto-Submitted` field body (RFC 3834 §5), if present.
    pub auto_submitted: Option<String>,
    /// `Precedence` field body (non-standard; `bulk`, `junk`, `list`).
    pub precedence: Option<String>,
    /// An `X-Autoreply` or `X-Autorespond` field is present.
    pub x_autoreply: bool,
    /// An `X-Auto-Response-Suppress` field is present (Microsoft Exchange).
    pub x_auto_response_suppress: bool,
    /// A `List-Id` (RFC 2919), `List-Unsubscribe`/`List-Subscribe` (RFC 2369) or
    /// `Mailing-List` field is present: mailing-list traffic.
    pub list_headers: bool,
    /// The `Return-Path` is the null reverse-path `<>` (RFC 5321 §4.5.5).
    pub null_return_path: bool,
    /// An `X-Failed-Recipients` field is present (Exim and others).
    pub x_failed_recipients: bool,
    /// From address, lower-cased, if any.
    pub from_addr: Option<String>,
    /// From display name, if any.
    pub from_name: Option<String>,
    /// Whether the From field exists but names no address (e.g. `From: <>`).
    pub from_without_address: bool,
    /// Decoded subject.
    pub subject: String,
    /// Top-level `report-type` parameter when the message is `multipart/report` (RFC 6522),
    /// lower-cased.
    pub report_type: Option<String>,
    /// Some part is `message/delivery-status` or `message/global-delivery-status`
    /// (RFC 3464 §2, RFC 6533).
    pub delivery_status_part: bool,
    /// Some part is `message/feedback-report` (RFC 5965 §3).
    pub feedback_report_part: bool,
    /// Some part encloses an original message or its header (`message/rfc822`,
    /// `text/rfc822-headers`).
    pub encloses_original: bool,
    /// msg-ids (without brackets) named as the Message-ID of an enclosed or quoted original
    /// message, in order of appearance; excludes this message's own Message-ID.
    pub enclosed_msg_ids: Vec<String>,
    /// This message's In-Reply-To and References msg-ids (some bouncers thread their report).
    pub thread_msg_ids: Vec<String>,
}

/// How many bytes of the subject [`classify`] reads.
pub const SUBJECT_SCAN_BYTES: usize = 1024;

/// What kind of message it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Written by a person: may open a ticket and get an acknowledgement.
    Human,
    /// Sent by a program or a list (bulk, list, auto-generated …): opens a ticket or joins one
    /// like a person's mail, but never gets an automatic answer. The reason names the signal.
    NoAutoAnswer(&'static str),
    /// An automatic reply (out-of-office, vacation, autoresponder): never opens a ticket and
    /// is never answered; attached to the ticket it threads to, else quarantined.
    AutoReply(&'static str),
    /// A delivery-status report (RFC 3464) or a non-standard bounce: never opens a ticket;
    /// becomes a flagged note on the ticket whose outgoing message it reports on.
    DeliveryReport {
        /// msg-ids of the original message it reports on, most likely first.
        original_msg_ids: Vec<String>,
    },
    /// An abuse/feedback report (ARF, RFC 5965): like a delivery report.
    FeedbackReport {
        /// msg-ids of the original message it reports on, most likely first.
        original_msg_ids: Vec<String>,
    },
}

impl Kind {
    /// Whether an acknowledgement (or any automatic answer) may be sent to this message's
    /// sender (RFC 3834 §2).
    pub fn may_answer(&self) -> bool {
        matches!(self, Kind::Human)
    }

    /// Whether this message may open a ticket.
    pub fn may_open_ticket(&self) -> bool {
        matches!(self, Kind::Human | Kind::NoAutoAnswer(_))
    }

    /// Stored name: `human`, `no_auto_answer`, `auto_reply`, `delivery_report`,
    /// `feedback_report`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Human => "human",
            Kind::NoAutoAnswer(_) => "no_auto_answer",
            Kind::AutoReply(_) => "auto_reply",
            Kind::DeliveryReport { .. } => "delivery_report",
            Kind::FeedbackReport { .. } => "feedback_report",
        }
    }
}

/// Local parts and display names of the senders of bounces (RFC 5321 §4.5.5 reports come
/// from the null path; the From of such messages is conventionally one of these).
const DAEMON_NAMES: [&str; 6] = [
    "mailer-daemon",
    "mailer daemon",
    "mail-daemon",
    "postmaster",
    "mail delivery subsystem",
    "mail delivery system",
];

/// Subject fragments of non-standard bounces, lower-case. Used only together with a second
/// signal (null Return-Path, an enclosed original), because a customer may well write
/// "Delivery failure" about a parcel.
const BOUNCE_SUBJECTS: [&str; 14] = [
    "undeliver",
    "undelivered mail",
    "delivery status notification",
    "delivery failure",
    "delivery has failed",
    "delivery failed",
    "failure notice",
    "returned mail",
    "mail delivery failed",
    "non-delivery",
    "nondeliverable",
    "could not be delivered",
    "mail system error",
    "delivery notification",
];

/// Subject starts of automatic replies, lower-case (Exchange, Apple Mail, Gmail, Notes, German
/// and French Outlook).
const AUTO_REPLY_SUBJECTS: [&str; 10] = [
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "autorespons",
    "auto response",
    "out of office",
    "out of the office",
    "abwesenheitsnotiz",
    "réponse automatique",
];

/// The Hotmail/Outlook.com JMRP complaint subject, a feedback report that predates ARF.
const COMPLAINT_SUBJECT: &str = "complaint about message from";

/// Classifies a message by its [`Signals`]. Rules, first match wins:
///
/// 1. feedback report: `multipart/report; report-type=feedback-report`, a
///    `message/feedback-report` part, or the JMRP complaint subject;
/// 2. delivery report: `report-type=delivery-status`, a delivery-status part,
///    `X-Failed-Recipients`, a MAILER-DAEMON/postmaster sender, a From with no address from
///    the null path, or a null Return-Path with a bounce subject or an enclosed original;
/// 3. auto-reply: `Auto-Submitted: auto-replied`, `X-Autoreply`/`X-Autorespond`, an
///    auto-reply subject, or any other mail from the null Return-Path;
/// 4. no automatic answer: `Auto-Submitted` other than `no`, `Precedence: bulk|junk|list`,
///    `X-Auto-Response-Suppress`, mailing-list fields, a `noreply` sender;
/// 5. otherwise human.
///
/// Linear in the size of `s`; only the first [`SUBJECT_SCAN_BYTES`] bytes of the subject are
/// looked at (the phrases it looks for are near the start).
pub fn classify(s: &Signals) -> Kind {
    let subject = s.subject.trim();
    let mut end = subject.len().min(SUBJECT_SCAN_BYTES);
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    let subject = subject[..end].to_lowercase();
    let report = s.report_type.as_deref().unwrap_or("");
    if report == "feedback-report"
        || s.feedback_report_part
        || subject.starts_with(COMPLAINT_SUBJECT)
    {
        return Kind::FeedbackReport {
            original_msg_ids: originals(s),
        };
    }
    let bounce_subject = BOUNCE_SUBJECTS.iter().any(|b| subject.contains(b));
    if report == "delivery-status"
        || s.delivery_status_part
        || s.x_failed_recipients
        || is_daemon(s)
        || (s.null_return_path && (s.from_without_address || bounce_subject || s.encloses_original))
    {
        return Kind::DeliveryReport {
            original_msg_ids: originals(s),
        };
    }
    let auto = s
        .auto_submitted
        .as_deref()
        .map(|v| token(v).to_ascii_lowercase());
    if auto.as_deref() == Some("auto-replied") {
        return Kind::AutoReply("Auto-Submitted: auto-replied");
    }
    if s.x_autoreply {
        return Kind::AutoReply("X-Autoreply");
    }
    if AUTO_REPLY_SUBJECTS.iter().any(|p| subject.starts_with(p)) {
        return Kind::AutoReply("automatic-reply subject");
    }
    if s.null_return_path {
        return Kind::AutoReply("null Return-Path");
    }
    if auto.as_deref().is_some_and(|v| v != "no") {
        return Kind::NoAutoAnswer("Auto-Submitted");
    }
    if let Some(p) = &s.precedence {
        if matches!(
            token(p).to_ascii_lowercase().as_str(),
            "bulk" | "junk" | "list"
        ) {
            return Kind::NoAutoAnswer("Precedence");
        }
    }
    if s.x_auto_response_suppress {
        return Kind::NoAutoAnswer("X-Auto-Response-Suppress");
    }
    if s.list_headers {
        return Kind::NoAutoAnswer("mailing list");
    }
    if s.from_addr.as_deref().is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("");
        let l = local.replace(['-', '_', '.'], "");
        l == "noreply" || l == "donotreply"
    }) {
        return Kind::NoAutoAnswer("no-reply sender");
    }
    Kind::Human
}

/// The first word of a field body, without comments: `auto-replied (vacation)` →
/// `auto-replied` (RFC 3834 §5.1 allows parameters and comments).
fn token(v: &str) -> &str {
    v.split([';', '(', ' ', '\t'])
        .find(|t| !t.is_empty())
        .unwrap_or("")
}

fn is_daemon(s: &Signals) -> bool {
    let local = s
        .from_addr
        .as_deref()
        .and_then(|a| a.split('@').next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = s.from_name.as_deref().unwrap_or("").to_lowercase();
    DAEMON_NAMES
        .iter()
        .any(|d| local == *d || name.trim_matches('"') == *d)
}

/// The enclosed ids, then the thread ids, without duplicates (a hash set: linear).
fn originals(s: &Signals) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    s.enclosed_msg_ids
        .iter()
        .chain(&s.thread_msg_ids)
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human() -> Signals {
        Signals {
            from_addr: Some("dana@customer.example".into()),
            from_name: Some("Dana".into()),
            subject: "Printer on fire".into(),
            ..Signals::default()
        }
    }

    #[test]
    fn plain_mail_is_human_and_may_be_answered() {
        let k = classify(&human());
        assert_eq!(k, Kind::Human);
        assert!(k.may_answer() && k.may_open_ticket());
    }

    #[test]
    fn auto_submitted_no_is_human() {
        let s = Signals {
            auto_submitted: Some("no".into()),
            ..human()
        };
        assert_eq!(classify(&s), Kind::Human);
    }

    #[test]
    fn auto_submitted_auto_replied_is_an_auto_reply() {
        let s = Signals {
            auto_submitted: Some("Auto-Replied (vacation)".into()),
            ..human()
        };
        let k = classify(&s);
        assert!(matches!(k, Kind::AutoReply(_)));
        assert!(!k.may_answer() && !k.may_open_ticket());
    }

    #[test]
    fn auto_submitted_auto_generated_opens_a_ticket_without_answer() {
        let s = Signals {
            auto_submitted: Some("auto-generated".into()),
            ..human()
        };
        let k = classify(&s);
        assert_eq!(k, Kind::NoAutoAnswer("Auto-Submitted"));
        assert!(k.may_open_ticket() && !k.may_answer());
    }

    #[test]
    fn precedence_bulk_junk_list_get_no_answer() {
        for p in ["bulk", "JUNK", "list", " list (mailing)"] {
            let s = Signals {
                precedence: Some(p.into()),
                ..human()
            };
            assert_eq!(classify(&s), Kind::NoAutoAnswer("Precedence"), "{p}");
        }
        let s = Signals {
            precedence: Some("first-class".into()),
            ..human()
        };
        assert_eq!(classify(&s), Kind::Human);
    }

    #[test]
    fn x_autoreply_is_an_auto_reply() {
        let s = Signals {
            x_autoreply: true,
            ..human()
        };
        assert_eq!(classify(&s), Kind::AutoReply("X-Autoreply"));
    }

    #[test]
    fn x_auto_response_suppress_gets_no_answer() {
        let s = Signals {
            x_auto_response_suppress: true,
            ..human()
        };
        assert_eq!(classify(&s), Kind::NoAutoAnswer("X-Auto-Response-Suppress"));
    }

    #[test]
    fn list_and_noreply_senders_get_no_answer() {
        let s = Signals {
            list_headers: true,
            ..human()
        };
        assert_eq!(classify(&s), Kind::NoAutoAnswer("mailing list"));
        let s = Signals {
            from_addr: Some("no-reply@shop.example".into()),
            ..human()
        };
        assert_eq!(classify(&s), Kind::NoAutoAnswer("no-reply sender"));
    }

    #[test]
    fn auto_reply_subjects_are_auto_replies() {
        for subj in [
            "Automatic reply: Nyaan",
            "Auto reply: Nyaan",
            "Out of Office: your request",
            "Abwesenheitsnotiz: Anfrage",
        ] {
            let s = Signals {
                subject: subj.into(),
                ..human()
            };
            assert!(matches!(classify(&s), Kind::AutoReply(_)), "{subj}");
        }
    }

    #[test]
    fn null_return_path_alone_is_an_auto_reply() {
        let s = Signals {
            null_return_path: true,
            ..human()
        };
        assert_eq!(classify(&s), Kind::AutoReply("null Return-Path"));
    }

    #[test]
    fn multipart_report_delivery_status_is_a_delivery_report() {
        let s = Signals {
            report_type: Some("delivery-status".into()),
            enclosed_msg_ids: vec!["orig@claimdesk.test".into()],
            thread_msg_ids: vec!["orig@claimdesk.test".into(), "root@x".into()],
            ..human()
        };
        let k = classify(&s);
        assert_eq!(
            k,
            Kind::DeliveryReport {
                original_msg_ids: vec!["orig@claimdesk.test".into(), "root@x".into()]
            }
        );
        assert!(!k.may_answer() && !k.may_open_ticket());
    }

    #[test]
    fn delivery_status_part_alone_is_a_delivery_report() {
        let s = Signals {
            delivery_status_part: true,
            ..human()
        };
        assert!(matches!(classify(&s), Kind::DeliveryReport { .. }));
    }

    #[test]
    fn x_failed_recipients_is_a_delivery_report() {
        let s = Signals {
            x_failed_recipients: true,
            ..human()
        };
        assert!(matches!(classify(&s), Kind::DeliveryReport { .. }));
    }

    #[test]
    fn mailer_daemon_and_postmaster_senders_are_delivery_reports() {
        for (addr, name) in [
            ("mailer-daemon@mx.example", None),
            ("postmaster@example.org", None),
            ("poostmaster@example.co.jp", Some("Mailer Daemon")),
            ("root@mx.example", Some("Mail Delivery Subsystem")),
        ] {
            let s = Signals {
                from_addr: Some(addr.into()),
                from_name: name.map(Into::into),
                ..human()
            };
            assert!(
                matches!(classify(&s), Kind::DeliveryReport { .. }),
                "{addr}"
            );
        }
    }

    #[test]
    fn bounce_subject_needs_a_second_signal() {
        let parcel = Signals {
            subject: "Delivery failure of my order #123".into(),
            ..human()
        };
        assert_eq!(classify(&parcel), Kind::Human);
        let bounce = Signals {
            null_return_path: true,
            subject: "Undeliverable Message".into(),
            ..human()
        };
        assert!(matches!(classify(&bounce), Kind::DeliveryReport { .. }));
        let enclosed = Signals {
            null_return_path: true,
            encloses_original: true,
            subject: "Mail".into(),
            ..human()
        };
        assert!(matches!(classify(&enclosed), Kind::DeliveryReport { .. }));
    }

    #[test]
    fn forwarded_original_from_a_person_is_human() {
        let s = Signals {
            encloses_original: true,
            enclosed_msg_ids: vec!["x@y".into()],
            subject: "original as attachment".into(),
            ..human()
        };
        assert_eq!(classify(&s), Kind::Human);
    }

    #[test]
    fn feedback_reports_are_recognised() {
        let arf = Signals {
            report_type: Some("feedback-report".into()),
            ..human()
        };
        assert!(matches!(classify(&arf), Kind::FeedbackReport { .. }));
        let part = Signals {
            feedback_report_part: true,
            ..human()
        };
        assert!(matches!(classify(&part), Kind::FeedbackReport { .. }));
        let jmrp = Signals {
            subject: "complaint about message from 192.0.2.222".into(),
            ..human()
        };
        assert!(matches!(classify(&jmrp), Kind::FeedbackReport { .. }));
    }

    #[test]
    fn a_report_wins_over_auto_submitted() {
        let s = Signals {
            auto_submitted: Some("auto-replied".into()),
            from_addr: Some("postmaster@x.example".into()),
            ..human()
        };
        assert!(matches!(classify(&s), Kind::DeliveryReport { .. }));
    }
}
