-- Statements run by metrics.go: gauges of WriteMetrics (the river_job gauge stays in Go: its queue
-- names are the Queue constants).

-- name: CountOutboxByKindAndState
SELECT kind, state, count(*) FROM exchange_outbox GROUP BY 1, 2 ORDER BY 1, 2

-- name: CountUnresolvedFailed
SELECT count(*) FROM exchange_failed WHERE resolved_at IS NULL
