-- upgrade-pilot demo database: an Odoo 16.0-shaped database written by us.
-- It has the tables that inspection, neutralization and the demo plan touch,
-- in the state of a live production database (active crons and mail servers,
-- an enabled payment provider, carriers in production), and business rows.

BEGIN;

CREATE TABLE res_company (
    id serial PRIMARY KEY, name varchar NOT NULL, partner_id integer, currency_id integer,
    email varchar, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE res_partner (
    id serial PRIMARY KEY, name varchar, display_name varchar, email varchar, phone varchar,
    is_company boolean DEFAULT false, company_id integer, active boolean DEFAULT true, city varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE res_users (
    id serial PRIMARY KEY, login varchar NOT NULL UNIQUE, partner_id integer NOT NULL, company_id integer,
    active boolean DEFAULT true, share boolean DEFAULT false, password varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, state varchar(16), latest_version varchar,
    author varchar, shortdesc jsonb, summary jsonb, application boolean DEFAULT false, license varchar,
    demo boolean DEFAULT false, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY, module varchar NOT NULL, name varchar NOT NULL, model varchar NOT NULL,
    res_id integer, noupdate boolean DEFAULT false, create_date timestamp, write_date timestamp,
    create_uid integer, write_uid integer, UNIQUE (module, name)
);
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text NOT NULL,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_act_server (
    id serial PRIMARY KEY, name jsonb NOT NULL, type varchar DEFAULT 'ir.actions.server', model_name varchar,
    state varchar NOT NULL, code text, usage varchar DEFAULT 'ir_actions_server',
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_cron (
    id serial PRIMARY KEY, ir_actions_server_id integer NOT NULL REFERENCES ir_act_server(id),
    cron_name jsonb, user_id integer, active boolean DEFAULT true, interval_number integer DEFAULT 1,
    interval_type varchar DEFAULT 'months', numbercall integer DEFAULT -1, nextcall timestamp NOT NULL,
    lastcall timestamp, priority integer DEFAULT 5,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE base_automation (
    id serial PRIMARY KEY, action_server_id integer NOT NULL REFERENCES ir_act_server(id),
    trigger varchar NOT NULL, active boolean DEFAULT true,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_mail_server (
    id serial PRIMARY KEY, name varchar NOT NULL, from_filter varchar, smtp_host varchar, smtp_port integer,
    smtp_authentication varchar NOT NULL DEFAULT 'login', smtp_user varchar, smtp_pass varchar,
    smtp_encryption varchar NOT NULL, smtp_debug boolean, sequence integer, active boolean,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE fetchmail_server (
    id serial PRIMARY KEY, name varchar NOT NULL, active boolean, state varchar, server varchar, port integer,
    server_type varchar NOT NULL, is_ssl boolean, "user" varchar, password varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE mail_template (
    id serial PRIMARY KEY, name jsonb, model varchar, subject jsonb, mail_server_id integer REFERENCES ir_mail_server(id),
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_ui_view (
    id serial PRIMARY KEY, name varchar NOT NULL, model varchar, key varchar, priority integer DEFAULT 16,
    type varchar, arch_db jsonb, inherit_id integer REFERENCES ir_ui_view(id), mode varchar DEFAULT 'primary',
    active boolean DEFAULT true, website_id integer,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE payment_provider (
    id serial PRIMARY KEY, name jsonb NOT NULL, code varchar NOT NULL, state varchar NOT NULL,
    is_published boolean, company_id integer, stripe_publishable_key varchar, stripe_secret_key varchar,
    stripe_webhook_secret varchar, paypal_email_account varchar, paypal_pdt_token varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE delivery_carrier (
    id serial PRIMARY KEY, name jsonb NOT NULL, delivery_type varchar NOT NULL, prod_environment boolean,
    active boolean, sequence integer, fedex_developer_key varchar, fedex_developer_password varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE website (
    id serial PRIMARY KEY, name varchar NOT NULL, domain varchar, company_id integer, cdn_activated boolean,
    cdn_url varchar, robots_txt text, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE iap_account (
    id serial PRIMARY KEY, service_name varchar, account_token varchar, company_id integer,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE auth_oauth_provider (
    id serial PRIMARY KEY, name varchar NOT NULL, client_id varchar, enabled boolean, auth_endpoint varchar,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE google_calendar_credentials (
    id serial PRIMARY KEY, calendar_rtoken varchar, calendar_token varchar, calendar_token_validity timestamp,
    calendar_sync_token varchar, synchronization_stopped boolean,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE product_template (
    id serial PRIMARY KEY, name jsonb NOT NULL, list_price numeric, type varchar, active boolean DEFAULT true,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE sale_order (
    id serial PRIMARY KEY, name varchar NOT NULL, partner_id integer REFERENCES res_partner(id), state varchar,
    date_order timestamp, amount_total numeric, company_id integer,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE account_move (
    id serial PRIMARY KEY, name varchar, move_type varchar NOT NULL, state varchar NOT NULL,
    partner_id integer REFERENCES res_partner(id), invoice_date date, amount_total numeric,
    to_check boolean, company_id integer,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
CREATE TABLE ir_attachment (
    id serial PRIMARY KEY, name varchar NOT NULL, res_model varchar, res_id integer, store_fname varchar,
    checksum varchar, file_size integer, mimetype varchar, type varchar DEFAULT 'binary',
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);

-- company, users
INSERT INTO res_partner (id, name, display_name, email, is_company, company_id, city, create_date, write_date, create_uid, write_uid)
VALUES (1, 'Demo Manufacturing SA', 'Demo Manufacturing SA', 'info@demo-manufacturing.example', true, 1, 'Namur', now(), now(), 1, 1),
       (2, 'Administrator', 'Administrator', 'admin@demo-manufacturing.example', false, 1, 'Namur', now(), now(), 1, 1),
       (3, 'Marc Demo', 'Marc Demo', 'marc@demo-manufacturing.example', false, 1, 'Namur', now(), now(), 1, 1);
INSERT INTO res_company (id, name, partner_id, currency_id, email, create_date, write_date, create_uid, write_uid)
VALUES (1, 'Demo Manufacturing SA', 1, 1, 'info@demo-manufacturing.example', now(), now(), 1, 1);
INSERT INTO res_users (id, login, partner_id, company_id, password, create_date, write_date, create_uid, write_uid)
VALUES (1, '__system__', 2, 1, NULL, now(), now(), 1, 1), (2, 'admin', 2, 1, '$pbkdf2-sha512$demo', now(), now(), 1, 1),
       (6, 'marc', 3, 1, '$pbkdf2-sha512$demo', now(), now(), 1, 1);
SELECT setval('res_partner_id_seq', 100);
SELECT setval('res_users_id_seq', 100);

-- modules: Odoo's own (author Odoo S.A.) and two custom ones
INSERT INTO ir_module_module (name, state, latest_version, author, shortdesc, application, license, create_date, write_date)
SELECT m.name, m.state, m.version, m.author, jsonb_build_object('en_US', initcap(replace(m.name, '_', ' '))), m.app, 'LGPL-3', now(), now()
FROM (VALUES
  ('base', 'installed', '16.0.1.3', 'Odoo S.A.', false), ('web', 'installed', '16.0.1.0', 'Odoo S.A.', false),
  ('base_setup', 'installed', '16.0.1.0', 'Odoo S.A.', false), ('bus', 'installed', '16.0.1.0', 'Odoo S.A.', false),
  ('mail', 'installed', '16.0.1.10', 'Odoo S.A.', true), ('contacts', 'installed', '16.0.1.0', 'Odoo S.A.', true),
  ('product', 'installed', '16.0.1.2', 'Odoo S.A.', false), ('account', 'installed', '16.0.1.2', 'Odoo S.A.', true),
  ('sale', 'installed', '16.0.1.2', 'Odoo S.A.', false), ('sale_management', 'installed', '16.0.1.0', 'Odoo S.A.', true),
  ('stock', 'installed', '16.0.1.1', 'Odoo S.A.', true), ('purchase', 'installed', '16.0.1.2', 'Odoo S.A.', true),
  ('delivery', 'installed', '16.0.1.0', 'Odoo S.A.', false), ('payment', 'installed', '16.0.2.0', 'Odoo S.A.', false),
  ('payment_stripe', 'installed', '16.0.2.0', 'Odoo S.A.', false), ('website', 'installed', '16.0.1.0', 'Odoo S.A.', true),
  ('website_sale', 'installed', '16.0.1.1', 'Odoo S.A.', true), ('fetchmail', 'installed', '16.0.1.0', 'Odoo S.A.', false),
  ('calendar', 'installed', '16.0.1.1', 'Odoo S.A.', true), ('google_calendar', 'installed', '16.0.1.0', 'Odoo S.A.', false),
  ('auth_oauth', 'installed', '16.0.1.0', 'Odoo S.A.', false), ('iap', 'installed', '16.0.1.1', 'Odoo S.A.', false),
  ('base_automation', 'installed', '16.0.1.0', 'Odoo S.A.', false), ('crm', 'installed', '16.0.1.8', 'Odoo S.A.', true),
  ('hr', 'uninstalled', '16.0.1.1', 'Odoo S.A.', true), ('mrp', 'uninstalled', '16.0.2.0', 'Odoo S.A.', true),
  ('acme_delivery_rules', 'installed', '16.0.1.4', 'Acme Integrators', false),
  ('acme_invoice_layout', 'installed', '16.0.2.1', 'Acme Integrators, Odoo Community Association (OCA)', false)
) AS m(name, state, version, author, app);

-- system parameters of a live server
INSERT INTO ir_config_parameter (key, value, create_date, write_date, create_uid, write_uid) VALUES
  ('database.uuid', '8a3b1c6e-5f2d-11ee-9c1a-0242ac120002', now(), now(), 1, 1),
  ('database.secret', 'c9f0e4b2-7d8a-4e1f-b6c3-2a9d8e7f6b5c', now(), now(), 1, 1),
  ('database.create_date', '2023-02-14 09:12:44', now(), now(), 1, 1),
  ('web.base.url', 'https://erp.demo-manufacturing.example', now(), now(), 1, 1),
  ('mail.catchall.domain', 'demo-manufacturing.example', now(), now(), 1, 1),
  ('mail.catchall.alias', 'catchall', now(), now(), 1, 1),
  ('mail.bounce.alias', 'bounce', now(), now(), 1, 1),
  ('base_setup.default_user_rights', 'True', now(), now(), 1, 1);

-- server actions: cron targets, two with Python code (one automated)
INSERT INTO ir_act_server (id, name, model_name, state, code, usage, create_date, write_date)
SELECT i, jsonb_build_object('en_US', n), 'ir.cron', 'code', c, 'ir_cron', now(), now()
FROM (VALUES
  (1, 'Base: Auto-vacuum internal data', 'model._run_vacuum_cleaner()'),
  (2, 'Mail: Email Queue Manager', 'model.process_email_queue()'),
  (3, 'Mail: Fetchmail Service', 'model._fetch_mails()'),
  (4, 'Notification: Delete Notifications older than 6 Month', 'model._gc_notifications(max_age_days=180)'),
  (5, 'Calendar: Event Reminder', 'model._send_reminder()'),
  (6, 'Google Calendar: synchronization', 'model._sync_all_calendars()'),
  (7, 'payment: post-process transactions', 'model._cron_finalize_post_processing()'),
  (8, 'Account: Post draft entries with auto_post enabled', 'model._autopost_draft_entries()'),
  (9, 'Procurement: run scheduler', 'model.run_scheduler(True)'),
  (10, 'CRM: Lead Assignment', 'model._cron_assign_leads()'),
  (11, 'Digest Emails', 'model._cron_send_digest_email()'),
  (12, 'eCommerce: send email to customers about their abandoned cart', 'model._send_abandoned_cart_email()'),
  (13, 'Partner Autocomplete : Sync with remote DB', 'model._process_queue()'),
  (14, 'Publisher: Update Notification', 'model.update_notification(None)')
) AS a(i, n, c);
INSERT INTO ir_act_server (id, name, model_name, state, code, usage, create_date, write_date) VALUES
  (20, '{"en_US": "Sync partners to the Acme warehouse API"}', 'res.partner', 'code',
   'requests.post("https://wms.acme.example/api/partners", json=record.read()[0])', 'base_automation', now(), now()),
  (21, '{"en_US": "Recompute customer credit limit"}', 'res.partner', 'code',
   'for rec in records: rec.write({"comment": "credit checked"})', 'ir_actions_server', now(), now()),
  (22, '{"en_US": "Send order confirmation"}', 'sale.order', 'email', NULL, 'ir_actions_server', now(), now());
SELECT setval('ir_act_server_id_seq', 100);
INSERT INTO base_automation (action_server_id, trigger, active, create_date, write_date) VALUES (20, 'on_create_or_write', true, now(), now());

INSERT INTO ir_cron (id, ir_actions_server_id, cron_name, user_id, active, interval_number, interval_type, nextcall, create_date, write_date)
SELECT id, id, name, 1, true, 1, 'days', now() + interval '1 hour', now(), now() FROM ir_act_server WHERE usage = 'ir_cron';
SELECT setval('ir_cron_id_seq', 100);

-- outgoing and incoming mail of a live company
INSERT INTO ir_mail_server (id, name, smtp_host, smtp_port, smtp_authentication, smtp_user, smtp_pass, smtp_encryption, sequence, active, create_date, write_date)
VALUES (1, 'Production SMTP', 'smtp.demo-manufacturing.example', 587, 'login', 'odoo@demo-manufacturing.example', 'smtp-password-demo', 'starttls', 10, true, now(), now()),
       (2, 'Marketing relay', 'relay.mailprovider.example', 465, 'login', 'apikey', 'relay-key-demo', 'ssl', 20, true, now(), now());
SELECT setval('ir_mail_server_id_seq', 100);
INSERT INTO fetchmail_server (id, name, active, state, server, port, server_type, is_ssl, "user", password, create_date, write_date)
VALUES (1, 'Support inbox', true, 'done', 'imap.demo-manufacturing.example', 993, 'imap', true, 'support@demo-manufacturing.example', 'imap-password-demo', now(), now());
SELECT setval('fetchmail_server_id_seq', 100);
INSERT INTO mail_template (name, model, subject, mail_server_id, create_date, write_date)
SELECT jsonb_build_object('en_US', n), m, jsonb_build_object('en_US', s), srv, now(), now()
FROM (VALUES ('Sales: Send Quotation', 'sale.order', 'Quotation {{ object.name }}', 1),
             ('Invoice: Send by email', 'account.move', 'Invoice {{ object.name }}', 1),
             ('Newsletter', 'res.partner', 'News from Demo Manufacturing', 2),
             ('Auth Signup: Reset Password', 'res.users', 'Password reset', NULL)) AS t(n, m, s, srv);

-- views: standard ones (with XML ids), the neutralization banner and ribbon (off),
-- and two views customized in the database
INSERT INTO ir_ui_view (id, name, model, key, type, arch_db, inherit_id, mode, active, create_date, write_date) VALUES
  (1, 'res.partner.form', 'res.partner', NULL, 'form', '{"en_US": "<form><field name=\"name\"/></form>"}', NULL, 'primary', true, now(), now()),
  (2, 'sale.order.form', 'sale.order', NULL, 'form', '{"en_US": "<form><field name=\"partner_id\"/></form>"}', NULL, 'primary', true, now(), now()),
  (3, 'account.move.form', 'account.move', NULL, 'form', '{"en_US": "<form><field name=\"state\"/></form>"}', NULL, 'primary', true, now(), now()),
  (4, 'web.layout', NULL, 'web.layout', 'qweb', '{"en_US": "<t t-name=\"web.layout\"/>"}', NULL, 'primary', true, now(), now()),
  (5, 'web.neutralize_banner', NULL, 'web.neutralize_banner', 'qweb', '{"en_US": "<t/>"}', 4, 'extension', false, now(), now()),
  (6, 'website.layout', NULL, 'website.layout', 'qweb', '{"en_US": "<t t-name=\"website.layout\"/>"}', 4, 'extension', true, now(), now()),
  (7, 'website.neutralize_ribbon', NULL, 'website.neutralize_ribbon', 'qweb', '{"en_US": "<t/>"}', 6, 'extension', false, now(), now()),
  (50, 'res.partner.form.acme.credit', 'res.partner', NULL, 'form', '{"en_US": "<xpath expr=\"//field[@name=''name'']\" position=\"after\"><field name=\"credit_limit\"/></xpath>"}', 1, 'extension', true, now(), now()),
  (51, 'sale.order.form.acme.incoterm', 'sale.order', NULL, 'form', '{"en_US": "<xpath expr=\"//field[@name=''partner_id'']\" position=\"after\"><field name=\"incoterm\"/></xpath>"}', 2, 'extension', true, now(), now());
SELECT setval('ir_ui_view_id_seq', 100);

INSERT INTO payment_provider (id, name, code, state, is_published, company_id, stripe_publishable_key, stripe_secret_key, stripe_webhook_secret, create_date, write_date) VALUES
  (1, '{"en_US": "Stripe"}', 'stripe', 'enabled', true, 1, 'pk_live_demo_publishable', 'sk_live_demo_not_a_real_key', 'whsec_demo_not_real', now(), now()),
  (2, '{"en_US": "Demo"}', 'demo', 'test', true, 1, NULL, NULL, NULL, now(), now()),
  (3, '{"en_US": "PayPal"}', 'paypal', 'disabled', false, 1, NULL, NULL, NULL, now(), now());
UPDATE payment_provider SET paypal_email_account = 'pay@demo-manufacturing.example', paypal_pdt_token = 'paypal-pdt-demo' WHERE code = 'paypal';
SELECT setval('payment_provider_id_seq', 100);

INSERT INTO delivery_carrier (id, name, delivery_type, prod_environment, active, sequence, fedex_developer_key, fedex_developer_password, create_date, write_date) VALUES
  (1, '{"en_US": "Free delivery charges"}', 'fixed', true, true, 1, NULL, NULL, now(), now()),
  (2, '{"en_US": "Local Delivery"}', 'base_on_rule', true, true, 2, NULL, NULL, now(), now()),
  (3, '{"en_US": "FedEx International"}', 'fedex', true, true, 3, 'fedex-key-demo', 'fedex-password-demo', now(), now());
SELECT setval('delivery_carrier_id_seq', 100);

INSERT INTO website (id, name, domain, company_id, cdn_activated, cdn_url, robots_txt, create_date, write_date) VALUES
  (1, 'Demo Manufacturing', 'https://shop.demo-manufacturing.example', 1, true, 'https://cdn.demo-manufacturing.example', NULL, now(), now());
INSERT INTO iap_account (service_name, account_token, company_id, create_date, write_date) VALUES
  ('partner_autocomplete', 'demo0token0000000000000000000001', 1, now(), now()),
  ('sms', 'demo0token0000000000000000000002', 1, now(), now());
INSERT INTO auth_oauth_provider (name, client_id, enabled, auth_endpoint, create_date, write_date) VALUES
  ('Odoo.com Accounts', NULL, true, 'https://accounts.odoo.com/oauth2/auth', now(), now()),
  ('Google OAuth2', '123-demo.apps.googleusercontent.com', true, 'https://accounts.google.com/o/oauth2/auth', now(), now());
INSERT INTO google_calendar_credentials (calendar_rtoken, calendar_token, calendar_token_validity, calendar_sync_token, synchronization_stopped, create_date, write_date)
VALUES ('1//demo-refresh-token', 'ya29.demo-access-token', now() + interval '1 hour', 'CPDemoSyncToken', false, now(), now());

-- XML ids: the autovacuum cron, crons, standard views
INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_date, write_date) VALUES
  ('base', 'autovacuum_job', 'ir.cron', 1, true, now(), now()),
  ('mail', 'ir_cron_mail_scheduler_action', 'ir.cron', 2, true, now(), now()),
  ('fetchmail', 'ir_cron_mail_gateway_action', 'ir.cron', 3, true, now(), now()),
  ('base', 'view_partner_form', 'ir.ui.view', 1, false, now(), now()),
  ('sale', 'view_order_form', 'ir.ui.view', 2, false, now(), now()),
  ('account', 'view_move_form', 'ir.ui.view', 3, false, now(), now()),
  ('web', 'layout', 'ir.ui.view', 4, false, now(), now()),
  ('web', 'neutralize_banner', 'ir.ui.view', 5, false, now(), now()),
  ('website', 'layout', 'ir.ui.view', 6, false, now(), now()),
  ('website', 'neutralize_ribbon', 'ir.ui.view', 7, false, now(), now()),
  ('base', 'main_company', 'res.company', 1, true, now(), now()),
  ('base', 'user_admin', 'res.users', 2, true, now(), now());
INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_date, write_date)
SELECT 'demo_crons', 'ir_cron_' || c.id, 'ir.cron', c.id, true, now(), now() FROM ir_cron c WHERE c.id > 3;
INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_date, write_date)
SELECT m.name, 'module_' || m.name, 'ir.module.module', m.id, true, now(), now() FROM ir_module_module m;

-- business rows
INSERT INTO res_partner (name, display_name, email, phone, is_company, company_id, city, create_date, write_date, create_uid, write_uid)
SELECT 'Customer ' || g, 'Customer ' || g, 'customer' || g || '@example.com', '+32 81 ' || lpad(g::text, 6, '0'),
       g % 5 = 0, 1, (ARRAY['Namur', 'Liège', 'Brussels', 'Ghent', 'Lille'])[1 + g % 5],
       now() - (g || ' hours')::interval, now(), 2, 2
FROM generate_series(1, 1500) g;
INSERT INTO product_template (name, list_price, type, create_date, write_date, create_uid, write_uid)
SELECT jsonb_build_object('en_US', 'Product ' || g), round((5 + g * 1.37)::numeric, 2), (ARRAY['product', 'consu', 'service'])[1 + g % 3], now(), now(), 2, 2
FROM generate_series(1, 250) g;
INSERT INTO sale_order (name, partner_id, state, date_order, amount_total, company_id, create_date, write_date, create_uid, write_uid)
SELECT 'S' || lpad(g::text, 5, '0'), 101 + (g * 7) % 1500, (ARRAY['draft', 'sent', 'sale', 'done', 'cancel'])[1 + g % 5],
       now() - (g || ' hours')::interval, round((100 + g * 3.1)::numeric, 2), 1, now(), now(), 2, 2
FROM generate_series(1, 1800) g;
INSERT INTO account_move (name, move_type, state, partner_id, invoice_date, amount_total, to_check, company_id, create_date, write_date, create_uid, write_uid)
SELECT 'INV/2023/' || lpad(g::text, 5, '0'), (ARRAY['out_invoice', 'in_invoice', 'out_refund', 'entry'])[1 + g % 4],
       (ARRAY['draft', 'posted', 'posted', 'cancel'])[1 + g % 4], 101 + (g * 11) % 1500,
       current_date - (g % 365), round((50 + g * 2.7)::numeric, 2), g % 17 = 0, 1, now(), now(), 2, 2
FROM generate_series(1, 2400) g;
INSERT INTO ir_attachment (name, res_model, res_id, store_fname, checksum, file_size, mimetype, create_date, write_date)
SELECT 'attachment_' || g || '.pdf', 'account.move', g, substr(md5(g::text), 1, 2) || '/' || md5(g::text), md5(g::text), 42, 'application/pdf', now(), now()
FROM generate_series(1, 40) g;

COMMIT;
