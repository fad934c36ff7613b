//! Test support: a fresh database per test, connected as the production roles.
//!
//! Each [`TestDb`] is a new database in the local PostgreSQL, owned by
//! `pulsepoint_owner` and migrated by it; services connect as their own `pp_*` role
//! (not superuser, no BYPASSRLS), exactly as in production. Nothing is shared between
//! tests but the cluster-wide roles.

pub mod pubsub;

use pp_db::{Migration, PgPool};
pub use pubsub::PubSubEmulator;
use uuid::Uuid;

/// Superuser URL used only to create roles and databases.
pub fn admin_url() -> String {
    std::env::var("PULSEPOINT_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis the tests use (a real one).
pub fn redis_url() -> String {
    std::env::var("PULSEPOINT_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn with_database(url: &str, user: &str, password: &str, database: &str) -> String {
    // postgres://[user@]host:port/db → postgres://user:password@host:port/database
    let rest = url.strip_prefix("postgres://").unwrap_or(url);
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host_and_db.split_once('/').map_or(host_and_db, |(h, _)| h);
    format!("postgres://{user}:{password}@{host}/{database}")
}

pub struct TestDb {
    pub name: String,
    admin_url: String,
}

impl TestDb {
    /// Creates the roles (once per cluster) and a new, empty database.
    pub async fn create() -> pp_db::Result<TestDb> {
        let admin_url = admin_url();
        let admin = pp_db::connect(&admin_url, 1).await?;
        sqlx::raw_sql(pp_db::BOOTSTRAP_SQL).execute(&admin).await?;
        let name = format!("pp_test_{}", Uuid::new_v4().simple());
        // Identifiers cannot be bound; `name` is generated above, not input.
        sqlx::raw_sql(&format!("create database {name} owner pulsepoint_owner"))
            .execute(&admin)
            .await?;
        admin.close().await;
        let db = TestDb { name, admin_url };
        let superuser = pp_db::connect(&db.superuser_url(), 1).await?;
        sqlx::raw_sql("revoke create on schema public from public")
            .execute(&superuser)
            .await?;
        superuser.close().await;
        Ok(db)
    }

    fn superuser_url(&self) -> String {
        let (base, _) = self
            .admin_url
            .rsplit_once('/')
            .unwrap_or((&self.admin_url, ""));
        format!("{base}/{}", self.name)
    }

    /// A superuser connection to this database: bypasses row-level security, for
    /// tests that check what is really stored (independent totals, raw ciphertexts).
    pub async fn superuser_pool(&self) -> pp_db::Result<PgPool> {
        pp_db::connect(&self.superuser_url(), 2).await
    }

    pub fn owner_url(&self) -> String {
        with_database(
            &self.admin_url,
            "pulsepoint_owner",
            "pulsepoint_owner_dev",
            &self.name,
        )
    }

    /// The URL a service logs in with: `service` is auth, brands, integrations, ….
    pub fn role_url(&self, service: &str) -> String {
        with_database(
            &self.admin_url,
            &format!("pp_{service}"),
            &format!("pp_{service}_dev"),
            &self.name,
        )
    }

    pub async fn migrate(
        &self,
        schema: &'static str,
        migrations: &[Migration],
    ) -> pp_db::Result<()> {
        let owner = pp_db::connect(&self.owner_url(), 1).await?;
        pp_db::migrate(&owner, schema, migrations).await?;
        owner.close().await;
        Ok(())
    }

    /// A pool logged in as the service's own role.
    pub async fn pool_as(
        &self,
        service: &str,
        settings: impl Into<pp_db::PoolSettings>,
    ) -> pp_db::Result<PgPool> {
        pp_db::connect(&self.role_url(service), settings).await
    }

    /// A pool logged in as the owner (test set-up that production never does, such as
    /// suspending a tenant).
    pub async fn owner_pool(&self) -> pp_db::Result<PgPool> {
        pp_db::connect(&self.owner_url(), 2).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_swap_user_and_database() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/postgres",
                "pp_auth",
                "pw",
                "x"
            ),
            "postgres://pp_auth:pw@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://127.0.0.1/postgres", "u", "p", "d"),
            "postgres://u:p@127.0.0.1/d"
        );
    }
}
