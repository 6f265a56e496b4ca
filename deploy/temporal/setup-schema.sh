#!/bin/sh
# One-shot job (temporalio/admin-tools): create Temporal's databases on PostgreSQL and bring their schemas
# up to date. Safe to re-run: `create` fails harmlessly when the database exists, updates are versioned.
set -eu
tool="temporal-sql-tool --plugin postgres12 --ep ${POSTGRES_SEEDS} -p ${DB_PORT} -u ${POSTGRES_USER} --pw ${POSTGRES_PWD}"
schema=/etc/temporal/schema/postgresql/v12

until nc -z "${POSTGRES_SEEDS}" "${DB_PORT}"; do echo "waiting for PostgreSQL"; sleep 1; done

for db in temporal temporal_visibility; do
  $tool --db "$db" create || true
done
$tool --db temporal setup-schema -v 0.0
$tool --db temporal update-schema -d "$schema/temporal/versioned"
$tool --db temporal_visibility setup-schema -v 0.0
$tool --db temporal_visibility update-schema -d "$schema/visibility/versioned"
echo "Temporal schema is up to date"
