-- Organisation directory, departments, users and API tokens.

-- Levels are data, never parsed out of codes: the 2025 two-tier reform (province and commune only) is a
-- change of rows, not of code. rank orders levels from the top.
CREATE TABLE org_level (
    name   text PRIMARY KEY CHECK (name ~ '^[a-z_]{1,32}$'),
    rank   int  NOT NULL,
    active boolean NOT NULL DEFAULT true
);
INSERT INTO org_level (name, rank) VALUES ('central', 1), ('province', 2), ('district', 3), ('commune', 4);

CREATE TABLE org (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 35),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    abbr       text NOT NULL DEFAULT '' CHECK (length(abbr) <= 20),
    level      text NOT NULL REFERENCES org_level (name),
    parent_id  bigint REFERENCES org (id),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX org_parent_idx ON org (parent_id);

-- Codes change (QCVN 102 -> QĐ 20, the 2025 re-coding); old codes keep resolving to the new organisation.
CREATE TABLE org_alias (
    code       text PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 35),
    org_id     bigint NOT NULL REFERENCES org (id),
    valid_from date,
    note       text NOT NULL DEFAULT ''
);
CREATE INDEX org_alias_org_idx ON org_alias (org_id);

CREATE TABLE department (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id bigint NOT NULL REFERENCES org (id),
    code   text NOT NULL CHECK (length(code) BETWEEN 1 AND 20),
    name   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    UNIQUE (org_id, code)
);

CREATE TABLE app_user (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        bigint NOT NULL REFERENCES org (id),
    department_id bigint REFERENCES department (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position      text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('clerk', 'leader', 'specialist', 'admin')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_user_org_idx ON app_user (org_id);

-- Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE api_token (
    sha256     bytea PRIMARY KEY CHECK (length(sha256) = 32),
    user_id    bigint NOT NULL REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_token_user_idx ON api_token (user_id);
