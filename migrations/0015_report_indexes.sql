-- Reports (issue 14, `stats` and the weekly digest): the ranges they read by resolution
-- time and by when SLA clocks ended, so a 28-day range over a million tickets reads only
-- that range's rows (`store::stats`).
CREATE INDEX tickets_resolved_at_idx ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX sla_clocks_met_at_idx ON sla_clocks (met_at) WHERE met_at IS NOT NULL;
CREATE INDEX sla_clocks_breached_at_idx ON sla_clocks (breached_at)
    WHERE breached_at IS NOT NULL AND met_at IS NULL;
