-- How the TPP sent a payment: the Berlin Group JSON body, or an ISO 20022
-- pain.001 document kept as sent (the payment's information is answered with it).
ALTER TABLE payments
    ADD COLUMN format TEXT NOT NULL DEFAULT 'json'
        CHECK (format IN ('json', 'pain.001')),
    ADD COLUMN document TEXT,
    ADD CONSTRAINT payments_document_with_format
        CHECK ((format = 'pain.001') = (document IS NOT NULL));
