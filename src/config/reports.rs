//! `[reports]`: the weekly digest (when and where it is posted) and where the console writes
//! charts.
//!
//! ```toml
//! [reports]
//! digest_at = "mon 09:00"        # weekday (mon … sun) and local time; absent: no digest
//! timezone = "Europe/Berlin"     # IANA zone of digest_at and of stats' days; UTC when absent
//! slack_channel = "C0123456789"  # absent: the Slack desk channel
//! discord_channel = "3000…"      # absent: the Discord desk channel
//! chart_dir = "/var/lib/claimdesk/charts"  # console charts; absent: the system temp dir
//! ```

use std::path::PathBuf;

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// Reports settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ReportsSettings {
    /// When the weekly digest is posted: `mon 09:00` (weekday `mon` … `sun`, 24-hour local
    /// time in [`ReportsSettings::timezone`]). `None`: no digest.
    #[serde(default)]
    pub digest_at: Option<String>,
    /// IANA time zone of `digest_at` (e.g. `Europe/Berlin`); UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Slack channel ID of the digest; the Slack desk channel when absent.
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Discord channel ID of the digest; the Discord desk channel when absent.
    #[serde(default)]
    pub discord_channel: Option<String>,
    /// Directory the console writes charts into; the system temp dir when absent.
    #[serde(default)]
    pub chart_dir: Option<PathBuf>,
}

/// When the weekly digest is due: a weekday and local time in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTime {
    /// Day of the week.
    pub weekday: Weekday,
    /// Local time of day.
    pub at: NaiveTime,
    /// Zone of `at`.
    pub tz: chrono_tz::Tz,
}

impl ReportsSettings {
    /// The digest's time, `None` when `digest_at` is not set.
    ///
    /// Errors: `digest_at` is not `<weekday> HH:MM`, or `timezone` is not an IANA zone
    /// (the message names the setting).
    pub fn digest_time(&self) -> Result<Option<DigestTime>, String> {
        let Some(text) = self.digest_at.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let bad = || format!("reports.digest_at `{text}` must be `<mon|tue|…|sun> HH:MM`");
        let (day, time) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(bad)?;
        let weekday = day.trim().parse::<Weekday>().map_err(|_| bad())?;
        let at = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| bad())?;
        let tz = self.zone()?;
        Ok(Some(DigestTime { weekday, at, tz }))
    }

    /// The reports' time zone (`timezone`; UTC when absent): where the digest's time and
    /// `stats`' days (`today`, `YYYY-MM-DD..YYYY-MM-DD`, the chart's points) are read.
    ///
    /// Errors: `timezone` is not an IANA zone name.
    pub fn zone(&self) -> Result<chrono_tz::Tz, String> {
        match self.timezone.as_deref().map(str::trim) {
            None | Some("") => Ok(chrono_tz::UTC),
            Some(z) => z
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("reports.timezone `{z}` is not an IANA time zone")),
        }
    }

    /// The digest's channel on `platform` (`slack`, `discord`), if configured.
    pub fn channel_for(&self, platform: &str) -> Option<String> {
        match platform {
            "slack" => self.slack_channel.clone(),
            "discord" => self.discord_channel.clone(),
            _ => None,
        }
        .filter(|c| !c.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_time_parses_or_names_the_setting() {
        let mut r = ReportsSettings::default();
        assert_eq!(r.digest_time(), Ok(None));
        r.digest_at = Some("mon 09:00".into());
        r.timezone = Some("Europe/Berlin".into());
        let t = r.digest_time().unwrap().unwrap();
        assert_eq!(t.weekday, Weekday::Mon);
        assert_eq!(t.at, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(t.tz, chrono_tz::Europe::Berlin);
        r.digest_at = Some("monday 9".into());
        assert!(r.digest_time().unwrap_err().contains("reports.digest_at"));
        r.digest_at = Some("fri 17:30".into());
        r.timezone = Some("Mars/Base".into());
        assert!(r.digest_time().unwrap_err().contains("reports.timezone"));
    }
}
