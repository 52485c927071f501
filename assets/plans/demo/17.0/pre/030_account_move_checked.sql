-- 17.0 replaces account.move "to_check" by its opposite, "checked".
ALTER TABLE account_move ADD COLUMN checked boolean;
UPDATE account_move SET checked = NOT coalesce(to_check, false);
ALTER TABLE account_move DROP COLUMN to_check;
