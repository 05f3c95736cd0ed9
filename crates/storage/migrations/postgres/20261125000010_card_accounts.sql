-- Card accounts. The ledger account of a card is a customer account without
-- an IBAN (cash account type CARD) whose overdraft limit is the credit limit;
-- this table names it by its masked PAN. The full PAN is never stored.
CREATE TABLE card_accounts (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    masked_pan TEXT NOT NULL UNIQUE
);

-- What a card payment records beyond its journal entry.
CREATE TABLE card_transactions (
    transaction_id         TEXT PRIMARY KEY REFERENCES ledger_transactions (id),
    transaction_date       DATE NOT NULL,
    merchant_name          TEXT NOT NULL,
    merchant_city          TEXT NOT NULL,
    merchant_country       TEXT NOT NULL CHECK (length(merchant_country) = 2),
    merchant_category_code TEXT NOT NULL CHECK (length(merchant_category_code) = 4),
    original_amount        BIGINT NOT NULL CHECK (original_amount > 0),
    original_currency      TEXT NOT NULL
);
