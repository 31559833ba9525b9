-- 0052: a read-only role for analysts that sees the read contract's views and nothing else.
--
-- `dronefleet_analyst` cannot log in itself (NOLOGIN): each analyst gets a login role of
-- their own that is a member of it (docs/views.md, "Connecting as an analyst"), so
-- access is granted and revoked per person and no password is shared. The role may use
-- the schema and SELECT from every `*_view` view; it gets no privilege on any base table,
-- materialized roll-up or checkpoint, and views run with their owner's rights, so it
-- reads the rows a view shows and nothing beside them. It cannot write anything.
--
-- The whole file is idempotent, and `projections.migrate` runs it again after every run
-- (and projections/conformance/run.mjs after the migrations): views of later migrations
-- get their grant too, and so do a rebuild's shadow views, which move live with it. A
-- migration that adds a view need not remember the analysts.
--
-- Roles belong to the whole cluster, not one database: several databases of one server
-- (the tests' one per module) share it, and two of them may create it at once, hence
-- the exception handler.

DO $role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dronefleet_analyst') THEN
        CREATE ROLE dronefleet_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database's migration created it a moment ago
END
$role$;

DO $usage$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO dronefleet_analyst', current_schema());
END
$usage$;

DO $grant$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relkind = 'v' AND c.relname LIKE '%\_view' LOOP
        EXECUTE format('GRANT SELECT ON %I TO dronefleet_analyst', v.relname);
    END LOOP;
END
$grant$;
