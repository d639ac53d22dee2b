-- Enterprise owners: the users who set an enterprise's policies, forced on every organization
-- of the enterprise (seed 002; GitHub's enterprise owners).
CREATE TABLE enterprise_owners (
    enterprise_id BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (enterprise_id, user_id)
);
CREATE INDEX enterprise_owners_user ON enterprise_owners (user_id);
