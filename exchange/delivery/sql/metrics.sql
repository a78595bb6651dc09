-- Statements run by metrics.go: gauges of WriteMetrics.

-- name: CountOutboxByKindAndState
SELECT kind, state, count(*) FROM exchange_outbox GROUP BY 1, 2 ORDER BY 1, 2

-- name: CountUnresolvedFailed
SELECT count(*) FROM exchange_failed WHERE resolved_at IS NULL

-- name: CountRiverJobsByQueueAndState
SELECT queue, state::text, count(*) FROM river_job WHERE queue = ANY($1::text[]) GROUP BY 1, 2 ORDER BY 1, 2
