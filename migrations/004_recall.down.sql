-- Recalled documents fall back to the nearest earlier state; recalled_at is dropped.
UPDATE incoming_doc SET state = 'returned' WHERE state = 'recalled';
ALTER TABLE incoming_doc DROP COLUMN recalled_at;
ALTER TABLE incoming_doc DROP CONSTRAINT incoming_doc_state_check;
ALTER TABLE incoming_doc ADD CONSTRAINT incoming_doc_state_check CHECK (state IN ('received', 'registered',
    'presented', 'assigned', 'processing', 'done', 'filed', 'returned'));

UPDATE outgoing_doc SET state = 'dispatched' WHERE state = 'recalled';
ALTER TABLE outgoing_doc DROP COLUMN recalled_at;
ALTER TABLE outgoing_doc DROP CONSTRAINT outgoing_doc_state_check;
ALTER TABLE outgoing_doc ADD CONSTRAINT outgoing_doc_state_check CHECK (state IN ('draft', 'in_review', 'approved',
    'signed', 'issued', 'dispatched'));
