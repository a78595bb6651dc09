-- Remote signing with a leader's own USB token (two-phase: prepare on the server, sign on the leader's
-- PC, complete on the server) and single-use file tickets for the government signing service.

-- The leader an approved draft is sent to for signature: only that leader may sign it.
CREATE TABLE sign_request (
    doc_id       uuid PRIMARY KEY REFERENCES outgoing_doc (id),
    leader_id    bigint NOT NULL REFERENCES app_user (id),
    requested_by bigint NOT NULL REFERENCES app_user (id),
    requested_at timestamptz NOT NULL
);
CREATE INDEX sign_request_leader_idx ON sign_request (leader_id);

-- A prepared signature: the exact bytes of the signing revision and the signed attributes, stored so that
-- complete embeds the signature into what was prepared and rebuilds nothing. Single use: used_at is set
-- in the transaction that stores the signed version. Kept in PostgreSQL so every server process agrees.
CREATE TABLE sign_session (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 16 AND 64),
    doc_id        uuid NOT NULL REFERENCES outgoing_doc (id),
    user_id       bigint NOT NULL REFERENCES app_user (id),
    doc_sha256    bytea NOT NULL CHECK (length(doc_sha256) = 32),  -- the version prepared
    cert_sha256   bytea NOT NULL CHECK (length(cert_sha256) = 32), -- the signer certificate
    chain         bytea[] NOT NULL,                                 -- DER, signer first
    field         text NOT NULL,
    hash          text NOT NULL,
    signed_at     timestamptz NOT NULL,
    base_size     bigint NOT NULL,
    increment     bytea NOT NULL,
    contents_pos  bigint NOT NULL,
    contents_end  bigint NOT NULL,
    digest        bytea NOT NULL,
    signed_attrs  bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    result_sha256 bytea
);
CREATE INDEX sign_session_expires_idx ON sign_session (expires_at) WHERE used_at IS NULL;

-- Download and upload URLs for the government signing service (it signs whole files): each token is
-- stored only as its SHA-256, bound to the document version and the user, short-lived and single use.
CREATE TABLE sign_ticket (
    id              uuid PRIMARY KEY,
    doc_id          uuid NOT NULL REFERENCES outgoing_doc (id),
    user_id         bigint NOT NULL REFERENCES app_user (id),
    doc_sha256      bytea NOT NULL CHECK (length(doc_sha256) = 32),
    cert_sha256     bytea CHECK (cert_sha256 IS NULL OR length(cert_sha256) = 32),
    download_sha256 bytea NOT NULL UNIQUE CHECK (length(download_sha256) = 32),
    upload_sha256   bytea NOT NULL UNIQUE CHECK (length(upload_sha256) = 32),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    downloaded_at   timestamptz,
    uploaded_at     timestamptz,
    result_sha256   bytea
);
