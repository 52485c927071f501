-- What 17.0's data files create on update: new scheduled actions and a webhook
-- action, all active, which is why a test copy is neutralized again afterwards.
INSERT INTO ir_act_server (name, model_name, state, code, usage, create_date, write_date)
VALUES ('{"en_US": "Discuss: channel member unmute"}', 'discuss.channel.member', 'code', 'model._cleanup_expired_mutes()', 'ir_cron', now(), now()),
       ('{"en_US": "Mail: alias domain health check"}', 'mail.alias.domain', 'code', 'model._check_health()', 'ir_cron', now(), now());
INSERT INTO ir_cron (ir_actions_server_id, cron_name, user_id, active, interval_number, interval_type, nextcall, create_date, write_date)
SELECT id, name->>'en_US', 1, true, 1, 'days', now() + interval '1 hour', now(), now()
FROM ir_act_server WHERE name->>'en_US' IN ('Discuss: channel member unmute', 'Mail: alias domain health check');
INSERT INTO ir_act_server (name, model_name, state, webhook_url, usage, create_date, write_date)
VALUES ('{"en_US": "Notify warehouse on confirmed order"}', 'sale.order', 'webhook', 'https://wms.acme.example/hooks/order', 'base_automation', now(), now());
