-- +goose Up
-- A case is one request that someone decides (DESIGN.md rule 3). Times are
-- unix microseconds; 0 means unset.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    phase TEXT NOT NULL,             -- active | paused | closed
    applicant_kind TEXT NOT NULL,    -- user | client
    applicant_id TEXT NOT NULL,
    applicant_org TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id TEXT NOT NULL DEFAULT '',
    target_org TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    max_level INTEGER NOT NULL DEFAULT 0,
    deadline BIGINT NOT NULL DEFAULT 0,
    paused_at BIGINT NOT NULL DEFAULT 0,
    paused_days INTEGER NOT NULL DEFAULT 0,
    resume_state TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cases_applicant ON cases (applicant_id, id);
CREATE INDEX cases_applicant_org ON cases (applicant_org, id);
CREATE INDEX cases_target_org ON cases (target_org, id);
CREATE INDEX cases_due ON cases (phase, deadline);

-- Who must act (active = 1) and who has had to act (kept, so past assignees
-- still see the case).
CREATE TABLE case_assignees (
    case_id TEXT NOT NULL REFERENCES cases (id),
    org_id TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL,
    PRIMARY KEY (case_id, org_id, role, user_id)
);
CREATE INDEX case_assignees_role ON case_assignees (role, org_id, active);
CREATE INDEX case_assignees_user ON case_assignees (user_id, active);

-- The history: every filing, transition, comment, attachment and escalation.
CREATE TABLE case_events (
    id {{ID}},
    case_id TEXT NOT NULL REFERENCES cases (id),
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL DEFAULT '',
    actor_org TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    from_state TEXT NOT NULL DEFAULT '',
    to_state TEXT NOT NULL DEFAULT '',
    level INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE TABLE case_attachments (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data {{BLOB}} NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_org TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments (case_id, id);

-- Notifications shown in the inbox, addressed to a person (user_id) or to
-- the holders of a role (in org_id, or anywhere when org_id is empty).
CREATE TABLE case_notifications (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id),
    org_id TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    title_en TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_notifications_user ON case_notifications (user_id, id);
CREATE INDEX case_notifications_role ON case_notifications (role, org_id, id);

CREATE TABLE case_notification_reads (
    notification_id TEXT NOT NULL REFERENCES case_notifications (id),
    reader_id TEXT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (notification_id, reader_id)
);

-- Outbox: deliveries by email or webhook, written in the decision's
-- transaction and sent after commit, with retries.
CREATE TABLE case_outbox (
    id {{ID}},
    notification_id TEXT NOT NULL REFERENCES case_notifications (id),
    channel TEXT NOT NULL,           -- smtp | webhook
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at BIGINT NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_outbox_due ON case_outbox (delivered_at, failed, next_at);

-- +goose Down
DROP TABLE case_outbox;
DROP TABLE case_notification_reads;
DROP TABLE case_notifications;
DROP TABLE case_attachments;
DROP TABLE case_events;
DROP TABLE case_assignees;
DROP TABLE cases;
