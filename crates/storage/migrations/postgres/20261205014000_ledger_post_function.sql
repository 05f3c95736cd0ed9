-- One ledger transfer in one statement, so a payment's posting is one round
-- trip instead of eight (BEGIN, the key lookup, both accounts, the journal
-- entry, two balance updates, the postings, COMMIT). The same rules as
-- storage/src/repo/posting.rs::post_one (SQLite runs those statements in
-- process): idempotent by key, both accounts enabled and in the amount's
-- currency, the debit within the overdraft limit, two postings per entry.
--
-- Both accounts are locked in id order before anything is checked or written,
-- so opposite transfers cannot deadlock, the funds check and its debit see the
-- same balance, and an account's postings are inserted while it is locked
-- (their ids, the entry references, become visible in increasing order).
-- A refusal writes nothing and is answered as a row; the accounts table's
-- CHECK stays the last line of defence, and a concurrent first use of the same
-- key fails on the unique index (the caller replays it).
CREATE FUNCTION ledger_post(
    p_id TEXT, p_key TEXT, p_debit TEXT, p_credit TEXT, p_amount BIGINT, p_currency TEXT,
    p_status TEXT, p_booking DATE, p_value DATE, p_debtor_name TEXT, p_debtor_iban TEXT,
    p_creditor_name TEXT, p_creditor_iban TEXT, p_remittance TEXT, p_end_to_end TEXT,
    p_code TEXT, p_created TIMESTAMPTZ)
RETURNS TABLE (r_outcome TEXT, r_account TEXT, r_currency TEXT, r_transaction TEXT,
               r_status TEXT, r_booking DATE, r_value DATE)
LANGUAGE plpgsql AS $$
DECLARE
    posted ledger_transactions%ROWTYPE;
    debit accounts%ROWTYPE;
    credit accounts%ROWTYPE;
BEGIN
    SELECT * INTO posted FROM ledger_transactions t WHERE t.idempotency_key = p_key;
    IF FOUND THEN
        IF posted.debit_account_id = p_debit AND posted.credit_account_id = p_credit
           AND posted.amount = p_amount AND posted.currency = p_currency THEN
            RETURN QUERY SELECT 'replayed', NULL::TEXT, NULL::TEXT, posted.id, posted.status,
                posted.booking_date, posted.value_date;
        ELSE
            RETURN QUERY SELECT 'conflict', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
                NULL::DATE, NULL::DATE;
        END IF;
        RETURN;
    END IF;
    IF p_amount <= 0 THEN
        RETURN QUERY SELECT 'nonpositive', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF p_debit = p_credit THEN
        RETURN QUERY SELECT 'same', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;

    PERFORM 1 FROM accounts a WHERE a.id IN (p_debit, p_credit) ORDER BY a.id FOR UPDATE;
    SELECT * INTO debit FROM accounts a WHERE a.id = p_debit;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown', p_debit, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF debit.status <> 'enabled' THEN
        RETURN QUERY SELECT 'disabled', p_debit, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF debit.currency <> p_currency THEN
        RETURN QUERY SELECT 'currency', p_debit, debit.currency, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    SELECT * INTO credit FROM accounts a WHERE a.id = p_credit;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown', p_credit, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF credit.status <> 'enabled' THEN
        RETURN QUERY SELECT 'disabled', p_credit, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF credit.currency <> p_currency THEN
        RETURN QUERY SELECT 'currency', p_credit, credit.currency, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;
    IF debit.overdraft_limit IS NOT NULL
       AND debit.booked_balance + debit.pending_debits - p_amount < -debit.overdraft_limit THEN
        RETURN QUERY SELECT 'funds', p_debit, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::DATE, NULL::DATE;
        RETURN;
    END IF;

    INSERT INTO ledger_transactions (id, idempotency_key, debit_account_id, credit_account_id,
        amount, currency, status, booking_date, value_date, debtor_name, debtor_iban,
        creditor_name, creditor_iban, remittance_information, end_to_end_id,
        bank_transaction_code, created_at)
    VALUES (p_id, p_key, p_debit, p_credit, p_amount, p_currency, p_status, p_booking, p_value,
        p_debtor_name, p_debtor_iban, p_creditor_name, p_creditor_iban, p_remittance,
        p_end_to_end, p_code, p_created);
    IF p_status = 'booked' THEN
        UPDATE accounts a SET booked_balance = a.booked_balance - p_amount WHERE a.id = p_debit;
        UPDATE accounts a SET booked_balance = a.booked_balance + p_amount WHERE a.id = p_credit;
    ELSE
        UPDATE accounts a SET pending_debits = a.pending_debits - p_amount WHERE a.id = p_debit;
        UPDATE accounts a SET pending_credits = a.pending_credits + p_amount WHERE a.id = p_credit;
    END IF;
    -- Debit first, so its posting id (entry reference) is the lower one.
    INSERT INTO postings (transaction_id, account_id, amount, currency, status, booking_date)
    VALUES (p_id, p_debit, -p_amount, p_currency, p_status, p_booking),
           (p_id, p_credit, p_amount, p_currency, p_status, p_booking);
    RETURN QUERY SELECT 'posted', NULL::TEXT, NULL::TEXT, p_id, p_status, p_booking, p_value;
END
$$;
