-- Statements run by bench.go (the peer of `lienthong workflow bench`): the plain pgx baselines and the
-- gapless check. The scratch database's CREATE DATABASE / DROP DATABASE stay in bench.go: they are
-- glued with the generated database name, which cannot be a parameter.

-- name: CreateBenchPlainTable
CREATE TABLE bench_plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sender text, code text, subject text, created_at timestamptz)

-- name: InsertBenchPlainRow
INSERT INTO bench_plain (sender, code, subject, created_at) VALUES ($1, $2, $3, now())

-- name: CreateBenchCounter
CREATE TABLE bench_counter (k int PRIMARY KEY, last int NOT NULL);
INSERT INTO bench_counter VALUES (1, 0)

-- name: NextBenchNumber
UPDATE bench_counter SET last = last + 1 WHERE k = 1 RETURNING last

-- name: SummariseRegisterNumbers
SELECT count(*), count(DISTINCT register_number), coalesce(min(register_number), 0), coalesce(max(register_number), 0)
FROM incoming_doc d JOIN org o ON o.id = d.org_id WHERE o.code = '000.00.00.H53'
