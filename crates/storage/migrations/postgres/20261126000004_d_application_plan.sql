-- A plan an operator assigned to an application, by its configured name; it
-- overrides the tier of the application's subscriptions. NULL: none assigned.
ALTER TABLE applications ADD COLUMN plan TEXT;
