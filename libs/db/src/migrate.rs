//! A small migration runner: one schema per service, its own `schema_migrations`
//! table, every migration in its own transaction, serialised by an advisory lock so
//! any number of replicas (or a k8s Job racing a dev script) can run it at once.

use sqlx::PgPool;

/// One migration, embedded in the service binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Applies the `migrations` not yet recorded in `schema.schema_migrations`.
///
/// `schema` is a constant of the calling service, never input. Run as the owner role.
pub async fn migrate(
    pool: &PgPool,
    schema: &'static str,
    migrations: &[Migration],
) -> crate::Result<usize> {
    assert!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "schema names are lowercase identifiers"
    );
    let mut conn = pool.acquire().await?;
    // Lock id: a stable hash of the schema name.
    sqlx::query("select pg_advisory_lock(hashtext($1))")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    let result = async {
        // Identifiers cannot be bound; `schema` is a checked compile-time constant.
        sqlx::raw_sql(&format!(
            "create schema if not exists {schema};
             create table if not exists {schema}.schema_migrations (
                 version bigint primary key,
                 name text not null,
                 applied_at timestamptz not null default now()
             );"
        ))
        .execute(&mut *conn)
        .await?;
        let applied: Vec<i64> =
            sqlx::query_scalar(&format!("select version from {schema}.schema_migrations"))
                .fetch_all(&mut *conn)
                .await?;
        let mut count = 0;
        for migration in migrations {
            if applied.contains(&migration.version) {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            // Shared migrations (e.g. the outbox) name their schema `__SCHEMA__`.
            let sql = migration.sql.replace("__SCHEMA__", schema);
            sqlx::raw_sql(&sql).execute(&mut *tx).await?;
            sqlx::query(&format!(
                "insert into {schema}.schema_migrations (version, name) values ($1, $2)"
            ))
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(
                schema,
                version = migration.version,
                name = migration.name,
                "migrated"
            );
            count += 1;
        }
        Ok::<usize, sqlx::Error>(count)
    }
    .await;
    sqlx::query("select pg_advisory_unlock(hashtext($1))")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    Ok(result?)
}
