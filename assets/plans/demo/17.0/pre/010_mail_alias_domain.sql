-- 17.0 keeps alias domains in their own table (mail.alias.domain) instead of the
-- mail.catchall.domain / mail.catchall.alias / mail.bounce.alias parameters.
CREATE TABLE mail_alias_domain (
    id serial PRIMARY KEY,
    name varchar NOT NULL UNIQUE,
    bounce_alias varchar NOT NULL,
    catchall_alias varchar NOT NULL,
    default_from varchar,
    sequence integer,
    create_date timestamp, write_date timestamp, create_uid integer, write_uid integer
);
INSERT INTO mail_alias_domain (name, bounce_alias, catchall_alias, default_from, sequence, create_date, write_date, create_uid, write_uid)
SELECT d.value,
       coalesce((SELECT value FROM ir_config_parameter WHERE key = 'mail.bounce.alias'), 'bounce'),
       coalesce((SELECT value FROM ir_config_parameter WHERE key = 'mail.catchall.alias'), 'catchall'),
       'notifications', 10, now() at time zone 'UTC', now() at time zone 'UTC', 1, 1
FROM ir_config_parameter d WHERE d.key = 'mail.catchall.domain';
ALTER TABLE res_company ADD COLUMN alias_domain_id integer REFERENCES mail_alias_domain(id);
UPDATE res_company SET alias_domain_id = (SELECT min(id) FROM mail_alias_domain);
DELETE FROM ir_config_parameter WHERE key IN ('mail.catchall.domain', 'mail.catchall.alias', 'mail.bounce.alias');
