-- 17.0 adds webhook server actions (state 'webhook', webhook_url).
ALTER TABLE ir_act_server ADD COLUMN webhook_url varchar;
