-- Statements run by demo.go: the progress counts while the demo runs and the summary at the end.

-- name: CountDoneStatusesFromSender
SELECT count(*) FROM exchange_status WHERE sender = $1 AND progress = '06'

-- name: CountSentEdocs
SELECT count(*) FROM exchange_outbox WHERE kind = 'edoc' AND state = 'sent'

-- name: CountIncomingFromSender
SELECT count(*) FROM incoming_doc WHERE sender_code = $1

-- name: CountDistinctIncomingFromSender
SELECT count(DISTINCT sender_document_id) FROM incoming_doc WHERE sender_code = $1

-- name: SummariseInboundVerdicts
SELECT coalesce(string_agg(verdict || '×' || c, ', '), '')
FROM (SELECT verdict, count(*) c FROM exchange_inbound GROUP BY verdict) x

-- name: CountRegisteredIncoming
SELECT count(*) FROM incoming_doc WHERE register_number IS NOT NULL

-- name: CountInboundPackets
SELECT count(*) FROM exchange_inbound

-- name: CountSentEdocDeliveries
SELECT count(*) FROM exchange_outbox WHERE state = 'sent' AND kind = 'edoc'

-- name: CountInboundStatusEvents
SELECT count(*) FROM exchange_status_event WHERE direction = 'in'

-- name: CountRunningJobs
SELECT count(*) FROM river_job WHERE state = 'running'
