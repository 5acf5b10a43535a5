-- Grafana's read-only account on the registry (run after `fuelwatch registry upgrade`, and
-- again after each upgrade; it is idempotent). psql variable: reader_password.
--
-- Anyone who can view a dashboard can send its datasource any query (POST /api/ds/query),
-- so the account may read only what the dashboards show: column grants, no password hashes,
-- tokens, audit log, evidence, names, phone numbers or vehicle plates. A column added by a
-- later migration stays unreadable until it is granted here.
-- tests/grafana/test_dashboard_queries.py runs every dashboard query as this account.

\set ON_ERROR_STOP on

SELECT 'CREATE ROLE grafana_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') \gexec
ALTER ROLE grafana_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
    PASSWORD :'reader_password';
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
ALTER ROLE grafana_reader SET statement_timeout = '30s';

GRANT CONNECT ON DATABASE :"DBNAME" TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
-- start from nothing, so a grant removed here is removed there too
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM grafana_reader;

GRANT SELECT (id, name) ON districts TO grafana_reader;
GRANT SELECT (id, district_id, name, licence_no, latitude, longitude, operator, status)
    ON stations TO grafana_reader;
GRANT SELECT (id, rule_id, category, severity, district_id, station_id, subject, title_zh,
              title_en, first_seen, last_seen, occurrences, cleared_at, state,
              escalation_level, rectification_due, closed_at)
    ON warnings TO grafana_reader;
GRANT SELECT (station_id, district_id, kind, licence_no, holder, issuer, valid_from,
              valid_until, status)
    ON licences TO grafana_reader;
GRANT SELECT (station_id, district_id, period_start, period_end, product, declared_volume_l,
              declared_revenue, tax_paid, declaration_no)
    ON tax_declarations TO grafana_reader;
GRANT SELECT (station_id, district_id, waybill_no, carrier, origin, product, volume_l,
              departed_at, arrived_at)
    ON ewaybills TO grafana_reader;
GRANT SELECT (station_id, district_id, record_type, record_no, dispenser_no, nozzle_no,
              performed_at, valid_until, result, error_percent, seal_no, seal_state)
    ON metrology_records TO grafana_reader;
