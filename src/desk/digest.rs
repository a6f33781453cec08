//! The weekly digest: the last 7 days' `stats` text and chart, posted into each platform's
//! digest channel (`[reports]`) once per week. The week is claimed in `scheduled_runs` in
//! the same transaction as the outbox rows that post it, so however many processes run and
//! however often they restart, each week's digest is queued exactly once; one that is due
//! is sent at the first run after its time, up to [`GRACE`] late (after a longer outage the
//! next week's comes instead of a stale one).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::stats::{Range, StatsQuery};
use super::{Desk, DeskError};
use crate::config::DigestTime;
use crate::store::{self, outbox::Effect};

/// The `scheduled_runs.job` of the digest.
pub const JOB: &str = "weekly_digest";

/// How late a digest is still sent.
pub const GRACE: Duration = Duration::days(3);

/// The digest instant in the week (Monday to Sunday, local) of local day `day`. A local
/// time that does not exist (skipped by a DST change) moves an hour on; an ambiguous one
/// takes the earlier instant.
fn instant_in_week_of(t: &DigestTime, day: NaiveDate) -> DateTime<Utc> {
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    let date = monday + Duration::days(i64::from(t.weekday.num_days_from_monday()));
    let local = date.and_time(t.at);
    t.tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            t.tz.from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

/// The latest digest instant at or before `now`.
pub fn latest_due(t: &DigestTime, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&t.tz).date_naive();
    let this_week = instant_in_week_of(t, today);
    if this_week <= now {
        this_week
    } else {
        instant_in_week_of(t, today - Duration::days(7))
    }
}

/// The first digest instant after `now`.
pub fn next_after(t: &DigestTime, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&t.tz).date_naive();
    let this_week = instant_in_week_of(t, today);
    if this_week > now {
        this_week
    } else {
        instant_in_week_of(t, today + Duration::days(7))
    }
}

/// The period key of the digest due at `due`: its local ISO week, `2026-W49`.
pub fn period_of(t: &DigestTime, due: DateTime<Utc>) -> String {
    let w = due.with_timezone(&t.tz).iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

impl Desk {
    /// The digest's time, when `[reports] digest_at` is set (validated with the settings).
    pub fn digest_time(&self) -> Option<DigestTime> {
        self.reports.digest_time().ok().flatten()
    }

    /// Queues the weekly digest if one is due at `now` and not yet queued: the 7 days
    /// before its time, as text and chart, into every active platform's digest channel.
    /// Returns the period queued (`2026-W49`), `None` when nothing was due or it was
    /// already queued (by this process or another).
    ///
    /// Errors: the database's (nothing is queued or recorded then).
    pub async fn run_digest(&self, now: DateTime<Utc>) -> Result<Option<String>, DeskError> {
        let Some(t) = self.digest_time() else {
            return Ok(None);
        };
        let due = latest_due(&t, now);
        if now - due > GRACE {
            return Ok(None);
        }
        let period = period_of(&t, due);
        {
            let mut conn = self.pool.acquire().await?;
            if store::scheduled_runs::last_period(&mut conn, JOB)
                .await?
                .as_deref()
                == Some(period.as_str())
            {
                return Ok(None);
            }
        }
        let query = StatsQuery {
            range: Range::Days(7),
            department: None,
            channel: None,
        };
        let report = self.stats_at(&query, due).await?;
        let text = format!(
            "{}\n{}",
            super::messages::digest_heading(due.with_timezone(&t.tz).date_naive()),
            super::messages::stats_report(&report, None)
        );
        let mut tx = self.pool.begin().await?;
        if !store::scheduled_runs::claim(&mut tx, JOB, &period).await? {
            return Ok(None);
        }
        for platform in &self.platforms {
            let effect = Effect::ChannelChart {
                platform: platform.clone(),
                channel: self.reports.channel_for(platform),
                comment: Some(text.clone()),
                chart: report.chart.clone(),
            };
            self.sink(&mut tx).effect(None, &effect).await?;
        }
        tx.commit().await?;
        tracing::info!(%period, "weekly digest queued");
        Ok(Some(period))
    }

    /// Runs forever: queues the digest when due ([`Desk::run_digest`] at the desk's
    /// current time), then sleeps until the next digest time (at most an hour at a time,
    /// so a changed clock is noticed). Returns at once when no digest is configured.
    pub async fn run_digest_loop(self) {
        let Some(t) = self.digest_time() else {
            return;
        };
        loop {
            let now = self.now();
            if let Err(e) = self.run_digest(now).await {
                tracing::error!(error = %e, "weekly digest failed; trying again in a minute");
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                continue;
            }
            let wait = (next_after(&t, now) - now)
                .to_std()
                .unwrap_or_default()
                .min(std::time::Duration::from_secs(3600))
                .max(std::time::Duration::from_secs(1));
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    fn berlin_monday_9() -> DigestTime {
        DigestTime {
            weekday: Weekday::Mon,
            at: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            tz: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn due_and_next_follow_the_local_week() {
        let t = berlin_monday_9();
        // Wednesday 2026-12-02 12:00 UTC: due Monday 2026-11-30 08:00 UTC (CET = UTC+1).
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().unwrap();
        assert_eq!(
            latest_due(&t, now).to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
        assert_eq!(
            next_after(&t, now).to_rfc3339(),
            "2026-12-07T08:00:00+00:00"
        );
        assert_eq!(period_of(&t, latest_due(&t, now)), "2026-W49");
        // One second before Monday's time the previous week's is the latest.
        let before: DateTime<Utc> = "2026-12-07T07:59:59Z".parse().unwrap();
        assert_eq!(
            latest_due(&t, before).to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
        assert_eq!(
            next_after(&t, before).to_rfc3339(),
            "2026-12-07T08:00:00+00:00"
        );
        let at: DateTime<Utc> = "2026-12-07T08:00:00Z".parse().unwrap();
        assert_eq!(latest_due(&t, at), at);
        // Summer time: 09:00 CEST is 07:00 UTC.
        let june: DateTime<Utc> = "2026-06-10T00:00:00Z".parse().unwrap();
        assert_eq!(
            latest_due(&t, june).to_rfc3339(),
            "2026-06-08T07:00:00+00:00"
        );
    }
}
