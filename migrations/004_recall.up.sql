-- Recall (thu hồi, Decree 30 Art. 18(4b)): a recalled incoming document loses its content but keeps its
-- metadata; a recalled outgoing document is frozen (no further dispatch).
ALTER TABLE incoming_doc DROP CONSTRAINT incoming_doc_state_check;
ALTER TABLE incoming_doc ADD CONSTRAINT incoming_doc_state_check CHECK (state IN ('received', 'registered',
    'presented', 'assigned', 'processing', 'done', 'filed', 'returned', 'recalled'));
ALTER TABLE incoming_doc ADD COLUMN recalled_at timestamptz;

ALTER TABLE outgoing_doc DROP CONSTRAINT outgoing_doc_state_check;
ALTER TABLE outgoing_doc ADD CONSTRAINT outgoing_doc_state_check CHECK (state IN ('draft', 'in_review', 'approved',
    'signed', 'issued', 'dispatched', 'recalled'));
ALTER TABLE outgoing_doc ADD COLUMN recalled_at timestamptz;
