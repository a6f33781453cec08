//! Auto-assignment policy: the least-loaded eligible agent, under a per-agent capacity cap,
//! ties broken round-robin by who was assigned least recently.

use chrono::{DateTime, Utc};

/// How a department's new tickets find an owner (config `departments.assignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// People pick tickets from chat (the default).
    #[default]
    Claim,
    /// claimdesk assigns each new ticket with [`pick`].
    Auto,
}

/// An agent who could take a ticket: already filtered to active, available (not away) and in
/// the ticket's department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Agent id.
    pub agent_id: i64,
    /// Tickets they hold now that count as load (claimed + in progress, + waiting per config).
    pub load: u32,
    /// Most tickets they may hold; `None` = no cap.
    pub capacity: Option<u32>,
    /// When they were last given a ticket; `None` = never.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    fn has_room(&self) -> bool {
        self.capacity.is_none_or(|cap| self.load < cap)
    }
}

/// The agent to give the next ticket to, or `None` when everyone is at capacity (the ticket
/// then waits in `pending_assignment`).
///
/// Order: lowest load; then least recently assigned (never-assigned first); then lowest id,
/// so the choice is deterministic.
pub fn pick(candidates: &[Candidate]) -> Option<i64> {
    candidates
        .iter()
        .filter(|c| c.has_room())
        .min_by(|a, b| {
            a.load
                .cmp(&b.load)
                .then_with(|| a.last_assigned_at.cmp(&b.last_assigned_at))
                .then_with(|| a.agent_id.cmp(&b.agent_id))
        })
        .map(|c| c.agent_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, min, 0).single()
    }

    fn c(id: i64, load: u32, cap: Option<u32>, last: Option<DateTime<Utc>>) -> Candidate {
        Candidate {
            agent_id: id,
            load,
            capacity: cap,
            last_assigned_at: last,
        }
    }

    #[test]
    fn picks_as_the_table_says() {
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Candidate>, Option<i64>)> = vec![
            ("nobody",                       vec![],                                                     None),
            ("least loaded wins",            vec![c(1, 3, None, at(1)), c(2, 1, None, at(9))],          Some(2)),
            ("tie: least recently assigned", vec![c(1, 2, None, at(5)), c(2, 2, None, at(1))],          Some(2)),
            ("tie: never assigned first",    vec![c(1, 2, None, at(1)), c(2, 2, None, None)],           Some(2)),
            ("full tie: lowest id",          vec![c(7, 0, None, None), c(3, 0, None, None)],            Some(3)),
            ("at cap is skipped",            vec![c(1, 5, Some(5), None), c(2, 9, Some(10), at(1))],    Some(2)),
            ("everyone at cap",              vec![c(1, 5, Some(5), None), c(2, 3, Some(3), None)],      None),
            ("cap zero takes nothing",       vec![c(1, 0, Some(0), None)],                              None),
        ];
        for (name, candidates, want) in cases {
            assert_eq!(pick(&candidates), want, "{name}");
        }
    }
}
