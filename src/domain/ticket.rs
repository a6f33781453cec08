//! Ticket numbers: `PREFIX-YYYY-NNNN`, a per-year sequence (`TICK-2026-0001`).

use std::fmt;
use std::str::FromStr;

/// A ticket number such as `TICK-2026-0001`: a prefix of ASCII letters, a four-digit year and a
/// per-year sequence number of at least four digits (zero-padded; `TICK-2026-12345` is valid once
/// the year passes 9,999 tickets).
///
/// The only constructors check their input, so a `TicketNumber` in hand is always well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    prefix: String,
    year: i32,
    seq: i32,
}

/// Why a string is not a ticket number.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a ticket number (expected something like TICK-2026-0001)")]
pub struct BadTicketNumber(pub String);

impl TicketNumber {
    /// Builds a number from its parts. `prefix` must be 1–16 ASCII letters, `year` 1000–9999 and
    /// `seq` ≥ 1; anything else is [`BadTicketNumber`].
    pub fn new(prefix: &str, year: i32, seq: i32) -> Result<Self, BadTicketNumber> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 16
            && prefix.bytes().all(|b| b.is_ascii_alphabetic())
            && (1000..=9999).contains(&year)
            && seq >= 1;
        if ok {
            Ok(Self {
                prefix: prefix.to_ascii_uppercase(),
                year,
                seq,
            })
        } else {
            Err(BadTicketNumber(format!("{prefix}-{year}-{seq}")))
        }
    }

    /// The prefix, upper case (`TICK`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The calendar year the ticket was opened in.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The position in that year's sequence, from 1.
    pub fn seq(&self) -> i32 {
        self.seq
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.prefix, self.year, self.seq)
    }
}

impl FromStr for TicketNumber {
    type Err = BadTicketNumber;

    /// Parses `TICK-2026-0001` (case-insensitive; surrounding whitespace, `#` and `[` `]` are
    /// ignored so `[TICK-2026-0001]` and `#tick-2026-0001` work as typed in chat).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTicketNumber(s.to_string());
        let t = s.trim().trim_start_matches('#');
        let t = t.strip_prefix('[').unwrap_or(t);
        let t = t.strip_suffix(']').unwrap_or(t);
        let mut parts = t.split('-');
        let (Some(prefix), Some(year), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if year.len() != 4 || seq.len() < 4 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let seq: i32 = seq.parse().map_err(|_| bad())?;
        Self::new(prefix, year, seq).map_err(|_| bad())
    }
}

/// Ticket priority.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Low.
    Low,
    /// Medium (the default).
    #[default]
    Medium,
    /// High.
    High,
    /// Urgent: drained first from the pending-assignment queue.
    Urgent,
}

impl Priority {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name claimdesk does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a priority (low, medium, high, urgent)")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "medium" | "normal" => Ok(Priority::Medium),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            _ => Err(UnknownPriority(s.trim().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_four_digit_padding() {
        let n = TicketNumber::new("TICK", 2026, 1).unwrap();
        assert_eq!(n.to_string(), "TICK-2026-0001");
        assert_eq!(
            TicketNumber::new("TICK", 2026, 12345).unwrap().to_string(),
            "TICK-2026-12345"
        );
    }

    #[test]
    fn parses_what_people_type() {
        for s in [
            "TICK-2026-0001",
            " tick-2026-0001 ",
            "[TICK-2026-0001]",
            "#TICK-2026-0001",
        ] {
            let n: TicketNumber = s.parse().unwrap();
            assert_eq!(n.to_string(), "TICK-2026-0001", "{s}");
        }
    }

    #[test]
    fn rejects_malformed_numbers() {
        for s in [
            "",
            "TICK",
            "TICK-2026",
            "TICK-26-0001",
            "TICK-2026-1",
            "TICK-2026-00x1",
            "TICK-2026-0000",
            "T1CK-2026-0001",
            "TICK-2026-0001-2",
        ] {
            assert!(s.parse::<TicketNumber>().is_err(), "{s} should not parse");
        }
    }
}
