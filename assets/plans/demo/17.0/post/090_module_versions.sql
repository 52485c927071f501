-- Every installed module now carries a 17.0 version.
UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\.0\.', '17.0.')
WHERE state = 'installed' AND latest_version LIKE '16.0.%';
