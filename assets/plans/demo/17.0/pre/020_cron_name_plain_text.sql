-- 17.0: ir_cron.cron_name is no longer translated: JSON {"en_US": …} becomes text.
ALTER TABLE ir_cron ALTER COLUMN cron_name TYPE varchar USING cron_name->>'en_US';
