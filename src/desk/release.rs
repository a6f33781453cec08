//! Auto-release of claims nobody works on (off by default; `desk.auto_release`): after
//! `warn_after_hours` without an outgoing reply the holder is warned in the card thread;
//! `release_after_hours` after the warning, the claim is released and the card says so.

use serde_json::json;

use crate::domain::Event;
use crate::store;

use super::{Desk, DeskError};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReleaseReport {
    /// Holders warned.
    pub warned: usize,
    /// Claims released.
    pub released: usize,
}

fn hours(h: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((h.max(0.0) * 3_600_000.0) as i64)
}

impl Desk {
    /// Warns or releases inactive claims; each ticket in its own transaction, decided on its
    /// row as locked (so two sweeps at once warn and release each claim once: the warning's
    /// mark and its outbox row commit together).
    pub async fn auto_release_sweep(&self) -> Result<ReleaseReport, DeskError> {
        let mut report = ReleaseReport::default();
        if !self.auto_release.enabled {
            return Ok(report);
        }
        let now = chrono::Utc::now();
        let warn_before = now - hours(self.auto_release.warn_after_hours);
        let release_before = now - hours(self.auto_release.release_after_hours);
        let stale = {
            let mut conn = self.pool.acquire().await?;
            store::tickets::inactive_claims(&mut conn, warn_before).await?
        };
        for (id, _) in stale {
            let mut tx = self.pool.begin().await?;
            let Some(t) = store::tickets::lock(&mut tx, id).await? else {
                continue;
            };
            // Re-read under the row lock: another sweep (another replica) may have warned
            // or released since the list was read.
            if t.assignee_handle.is_none() {
                continue;
            }
            let warned_at = store::tickets::release_warned_at(&mut tx, id).await?;
            let holder = t.assignee_handle.clone().unwrap_or_default();
            match warned_at {
                None => {
                    // Marks only an unwarned claim: the warning goes out once per claim.
                    if !store::tickets::mark_release_warned(&mut tx, id).await? {
                        continue;
                    }
                    let text = format!(
                        "⏰ @{holder}: no reply to the customer on {} for {} h. The claim will be released in {} h unless someone replies.",
                        t.number, self.auto_release.warn_after_hours, self.auto_release.release_after_hours
                    );
                    self.sink(&mut tx).notices(id, &text).await?;
                    report.warned += 1;
                }
                Some(w) if w < release_before => {
                    let Ok(status) = t.status.apply(Event::Unclaim) else {
                        continue;
                    };
                    store::tickets::set_state(&mut tx, id, status, None).await?;
                    self.sink(&mut tx)
                        .audit(
                            id,
                            ("system", "auto"),
                            "ticket.auto_released",
                            json!({"status": t.status.as_str(), "assignee": holder}),
                            json!({"status": status.as_str(), "assignee": null}),
                        )
                        .await?;
                    self.sink(&mut tx).notices(id, &format!("🔓 {} was released after inactivity (was @{holder}); it is open again.", t.number))
                        .await?;
                    self.sink(&mut tx).cards(id).await?;
                    self.sla_status(&mut self.sink(&mut tx), &t, t.status, status)
                        .await?;
                    self.drain_pending_in(&mut tx, &t.department).await?;
                    report.released += 1;
                }
                Some(_) => {}
            }
            tx.commit().await?;
        }
        Ok(report)
    }
}
