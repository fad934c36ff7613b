//! A transaction bound to one tenant.

use pp_types::TenantId;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::DbError;

/// A narrow, pre-authentication lookup that RLS allows without a tenant context: each
/// variant names one `app.*` setting a policy reads (see the auth migrations), so e.g.
/// a login can see only the rows of the email being signed in, in any tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    LoginEmail,
    ApiKeyId,
    RefreshTokenId,
    /// The outbox relay: unsent events of every tenant (value `on`).
    OutboxRelay,
    /// A sync worker leasing work: the sync queue and schedule rows (ids and times
    /// only) of every tenant (value `on`; see the integrations migrations).
    SyncWorker,
    /// A Shopify webhook: the Shopify integration of one shop domain, to find its
    /// tenant (value = the shop domain).
    ShopDomain,
    /// Key rotation (`pulsepoint-integrations reencrypt`): every integration's sealed
    /// credentials (value `on`).
    KeyRotation,
    /// The insights rollup sweep: which brands of every tenant have rollups (ids and
    /// times only; value `on`). Each brand is then refreshed in its own tenant.
    RollupSweep,
}

impl Lookup {
    fn setting(self) -> &'static str {
        match self {
            Lookup::LoginEmail => "app.login_email",
            Lookup::ApiKeyId => "app.api_key_id",
            Lookup::RefreshTokenId => "app.refresh_token_id",
            Lookup::OutboxRelay => "app.outbox_relay",
            Lookup::SyncWorker => "app.sync_worker",
            Lookup::ShopDomain => "app.shop_domain",
            Lookup::KeyRotation => "app.key_rotation",
            Lookup::RollupSweep => "app.rollup_sweep",
        }
    }
}

/// A transaction whose row-level-security context is one tenant.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    tenant_id: Option<TenantId>,
    /// The pre-authentication lookup this transaction was opened for, until
    /// [`TenantTx::enter_tenant`] closes it.
    lookup: Option<Lookup>,
}

impl TenantTx {
    /// Opens a transaction in the caller's tenant (`&principal` converts).
    pub async fn begin(pool: &PgPool, tenant: impl Into<TenantId>) -> Result<Self, DbError> {
        Self::begin_for_tenant(pool, tenant.into()).await
    }

    /// Opens a transaction in `tenant_id`. For flows that act for a tenant before a
    /// principal exists (sign-up, login after the account is found, background jobs).
    ///
    /// One round trip: `BEGIN` and the `set_config` go as one simple-protocol query.
    /// The tenant id is a `Uuid`, formatted as hyphenated hex, so the only text spliced
    /// into that statement is `[0-9a-f-]`; every other setting is bound as a parameter.
    pub async fn begin_for_tenant(pool: &PgPool, tenant_id: TenantId) -> Result<Self, DbError> {
        let tx = pool
            .begin_with(format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
                tenant_id.0.hyphenated()
            ))
            .await?;
        Ok(TenantTx {
            tx,
            tenant_id: Some(tenant_id),
            lookup: None,
        })
    }

    /// Opens a transaction with no tenant, scoped to one pre-authentication lookup.
    pub async fn begin_lookup(pool: &PgPool, lookup: Lookup, value: &str) -> Result<Self, DbError> {
        let mut tx = pool.begin().await?;
        sqlx::query("select set_config($1, $2, true)")
            .bind(lookup.setting())
            .bind(value)
            .execute(&mut *tx)
            .await?;
        Ok(TenantTx {
            tx,
            tenant_id: None,
            lookup: Some(lookup),
        })
    }

    /// Switches this transaction to `tenant_id` (after a lookup found the tenant). The
    /// lookup's own setting is cleared in the same statement: from here on the
    /// transaction sees that tenant's rows and nothing the lookup opened.
    pub async fn enter_tenant(&mut self, tenant_id: TenantId) -> Result<(), DbError> {
        // The lookup's own setting is set to '' (policies read it through
        // `nullif(…, '')`), which closes what it opened.
        let lookup = self.lookup.take().map_or("", Lookup::setting);
        sqlx::query(
            "select set_config('app.tenant_id', $1, true),
                    case when $2 <> '' then set_config($2, '', true) end",
        )
        .bind(tenant_id.0.to_string())
        .bind(lookup)
        .execute(&mut *self.tx)
        .await?;
        self.tenant_id = Some(tenant_id);
        Ok(())
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The connection to run queries on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        Ok(self.tx.rollback().await?)
    }
}
