//! Read models for people: my tickets, the unassigned queue, and the team's workload (the
//! queries are in `store::workload`).

use crate::store;

pub use crate::store::workload::{AgentLoad, QueueLine};

use super::{Actor, Desk, DeskError};

/// `workload`: per agent, plus the unassigned queue.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Workload {
    /// Active agents by handle.
    pub agents: Vec<AgentLoad>,
    /// Open or pending tickets nobody holds.
    pub unassigned: i64,
    /// Seconds since the oldest of those was opened.
    pub oldest_unassigned_secs: Option<f64>,
    /// Tickets not done, held or not, with an SLA clock at risk (warned, not yet due).
    pub at_risk: i64,
    /// Tickets not done, held or not, with an SLA clock breached.
    pub breached: i64,
}

impl Desk {
    /// Tickets `actor` holds that are not done: the SLA clock due first first (tickets
    /// without one last), then most urgent, then oldest; the first
    /// [`store::workload::QUEUE_LINES`], each with the queue's size.
    pub async fn mine(&self, actor: &Actor) -> Result<Vec<QueueLine>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::workload::held_by(&mut conn, actor.agent.id).await?)
    }

    /// Tickets nobody holds (open or pending assignment), oldest first; the first
    /// [`store::workload::QUEUE_LINES`], each with the queue's size.
    pub async fn unassigned(&self) -> Result<Vec<QueueLine>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::workload::unassigned(&mut conn).await?)
    }

    /// The team's workload: per agent claimed / in progress / waiting, the age of the
    /// oldest unanswered customer message on their tickets, and their tickets with an SLA
    /// clock at risk or breached; plus the unassigned queue and the at-risk and breached
    /// totals. SLA states are judged at the desk's clock, on each ticket's headline clock
    /// (as the web view's SLA filter; see `store::workload::agent_loads`).
    ///
    /// The three counts are read at once on three connections of the pool (at 1,000,000
    /// tickets they take ~29, ~5 and ~15 ms; `cargo bench --bench scale`), each its own
    /// snapshot.
    pub async fn workload(&self) -> Result<Workload, DeskError> {
        let now = self.clock_now();
        let (agents, (unassigned, oldest), (at_risk, breached)) = tokio::try_join!(
            async {
                let mut conn = self.pool.acquire().await?;
                store::workload::agent_loads(&mut conn, now).await
            },
            async {
                let mut conn = self.pool.acquire().await?;
                store::workload::unassigned_summary(&mut conn).await
            },
            async {
                let mut conn = self.pool.acquire().await?;
                store::workload::sla_totals(&mut conn, now).await
            },
        )?;
        Ok(Workload {
            agents,
            unassigned,
            oldest_unassigned_secs: oldest,
            at_risk,
            breached,
        })
    }
}
