-- Files, numbering, incoming and outgoing documents, and the hash-chained audit log.

-- Content-addressed file bytes. Stored in the database so they commit and roll back with the document
-- that references them; a retried transaction finds the same key and writes nothing new.
CREATE TABLE file_blob (
    sha256     bytea PRIMARY KEY CHECK (length(sha256) = 32),
    size       bigint NOT NULL CHECK (size >= 0),
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (organisation, series, year). The row is locked by the UPDATE that takes a number and
-- stays locked until the document's transaction ends, so numbers are gapless and never repeated.
CREATE TABLE register_counter (
    org_id bigint NOT NULL REFERENCES org (id),
    series text   NOT NULL,
    year   int    NOT NULL,
    last   int    NOT NULL CHECK (last >= 1),
    PRIMARY KEY (org_id, series, year)
);

CREATE TABLE incoming_doc (
    id                 uuid PRIMARY KEY,
    org_id             bigint NOT NULL REFERENCES org (id),
    state              text NOT NULL CHECK (state IN ('received', 'registered', 'presented', 'assigned',
                                                      'processing', 'done', 'filed', 'returned')),
    source             text NOT NULL CHECK (source IN ('paper', 'electronic', 'axis')),
    sender_code        text NOT NULL DEFAULT '',
    sender_name        text NOT NULL,
    sender_document_id text,
    code_number        text NOT NULL DEFAULT '',
    code_notation      text NOT NULL DEFAULT '',
    promulgation_date  date,
    document_type      text NOT NULL DEFAULT '',
    subject            text NOT NULL,
    urgency            text NOT NULL CHECK (urgency IN ('normal', 'urgent', 'very_urgent', 'flash')),
    secrecy            text NOT NULL CHECK (secrecy IN ('normal', 'confidential', 'secret', 'top_secret')),
    is_copy            boolean NOT NULL DEFAULT false,
    page_count         int,
    due_date           date,
    notes              text NOT NULL DEFAULT '',
    received_at        timestamptz NOT NULL,
    series             text,
    register_year      int,
    register_number    int,
    registered_at      timestamptz,
    registered_by      bigint REFERENCES app_user (id),
    lead_department_id bigint REFERENCES department (id),
    lead_user_id       bigint REFERENCES app_user (id),
    coord_department_ids bigint[] NOT NULL DEFAULT '{}',
    deadline           date,
    instruction        text NOT NULL DEFAULT '',
    assigned_at        timestamptz,
    completed_at       timestamptz,
    filed_at           timestamptz,
    result             text NOT NULL DEFAULT '',
    reason             text NOT NULL DEFAULT '',
    packet_sha256      bytea,
    search_text        text NOT NULL DEFAULT '',
    created_by         bigint REFERENCES app_user (id),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CHECK ((register_number IS NULL) = (register_year IS NULL))
);
CREATE UNIQUE INDEX incoming_doc_number_key ON incoming_doc (org_id, series, register_year, register_number)
    WHERE register_number IS NOT NULL;
-- Idempotent filing of packets: one document per (recipient organisation, sender, sender's DocumentId).
CREATE UNIQUE INDEX incoming_doc_packet_key ON incoming_doc (org_id, sender_code, sender_document_id)
    WHERE sender_document_id IS NOT NULL;
CREATE INDEX incoming_doc_org_idx ON incoming_doc (org_id, id DESC);
CREATE INDEX incoming_doc_dup_idx ON incoming_doc (org_id, sender_code, code_number, code_notation);
CREATE INDEX incoming_doc_lead_user_idx ON incoming_doc (lead_user_id) WHERE lead_user_id IS NOT NULL;

CREATE TABLE incoming_file (
    doc_id       uuid NOT NULL REFERENCES incoming_doc (id),
    seq          int  NOT NULL,
    sha256       bytea NOT NULL REFERENCES file_blob (sha256),
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE INDEX incoming_file_sha_idx ON incoming_file (sha256);

CREATE TABLE outgoing_doc (
    id               uuid PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES org (id),
    state            text NOT NULL CHECK (state IN ('draft', 'in_review', 'approved', 'signed', 'issued',
                                                    'dispatched')),
    document_type    text NOT NULL,
    type_abbr        text NOT NULL DEFAULT '',
    unit_abbr        text NOT NULL DEFAULT '',
    legal_normative  boolean NOT NULL DEFAULT false,
    subject          text NOT NULL,
    urgency          text NOT NULL CHECK (urgency IN ('normal', 'urgent', 'very_urgent', 'flash')),
    secrecy          text NOT NULL CHECK (secrecy IN ('normal', 'confidential', 'secret', 'top_secret')),
    due_date         date,
    signer_name      text NOT NULL DEFAULT '',
    signer_position  text NOT NULL DEFAULT '',
    competence       text NOT NULL DEFAULT '',
    places           text NOT NULL DEFAULT '',
    copies           int,
    page_count       int,
    file_holder      text NOT NULL DEFAULT '',
    notes            text NOT NULL DEFAULT '',
    reason           text NOT NULL DEFAULT '',
    drafted_by       bigint NOT NULL REFERENCES app_user (id),
    reviewed_by      bigint REFERENCES app_user (id),
    signed_by        bigint REFERENCES app_user (id),
    signed_at        timestamptz,
    series           text,
    issue_year       int,
    code_number      int,
    code_notation    text,
    issued_at        timestamptz,
    issued_by        bigint REFERENCES app_user (id),
    dispatched_at    timestamptz,
    search_text      text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX outgoing_doc_number_key ON outgoing_doc (org_id, series, issue_year, code_number)
    WHERE code_number IS NOT NULL;
CREATE INDEX outgoing_doc_org_idx ON outgoing_doc (org_id, id DESC);

CREATE TABLE outgoing_file (
    doc_id       uuid NOT NULL REFERENCES outgoing_doc (id),
    seq          int  NOT NULL,
    role         text NOT NULL CHECK (role IN ('main', 'attachment', 'signed')),
    sha256       bytea NOT NULL REFERENCES file_blob (sha256),
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE INDEX outgoing_file_sha_idx ON outgoing_file (sha256);

-- One row per (outgoing document, recipient organisation): the delivery state the exchange side updates.
CREATE TABLE outgoing_recipient (
    doc_id        uuid   NOT NULL REFERENCES outgoing_doc (id),
    org_id        bigint NOT NULL REFERENCES org (id),
    code          text   NOT NULL,
    name          text   NOT NULL,
    status        text   NOT NULL DEFAULT 'queued',
    status_detail text   NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (doc_id, org_id)
);

-- Append-only, hash-chained audit log. hash = SHA-256(prev_hash || seq as 8 big-endian bytes || payload);
-- payload is the canonical JSON of the record. audit_head holds the chain's tip and serialises appends.
CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    org_id     bigint,
    doc_id     uuid,
    payload    bytea NOT NULL,
    prev_hash  bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash       bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_doc_idx ON audit_log (doc_id) WHERE doc_id IS NOT NULL;

-- prev is written by the same UPDATE that advances the tip, so one statement returns both ends of the link.
CREATE TABLE audit_head (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq  bigint NOT NULL,
    hash bytea  NOT NULL CHECK (length(hash) = 32),
    prev bytea  NOT NULL CHECK (length(prev) = 32)
);
INSERT INTO audit_head (seq, hash, prev) VALUES (0, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
