//! Row-level security as the service roles see it (no application code in between).

use pp_auth::TenantId;
use pp_db::TenantTx;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn service_roles_are_plain_and_rls_fails_closed() {
    let db = pulsepoint_e2e::migrated_db().await.expect("db");
    let pool = db.pool_as("brands", 1).await.expect("pool");

    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
            .fetch_one(&pool)
            .await
            .expect("role");
    assert!(
        !superuser && !bypass,
        "pp_brands must be neither superuser nor BYPASSRLS"
    );
    let owned: i64 = sqlx::query_scalar("select count(*) from pg_class where relowner = (select oid from pg_roles where rolname = current_user)")
        .fetch_one(&pool)
        .await
        .expect("owned");
    assert_eq!(owned, 0, "service roles own nothing");
    let unforced: i64 = sqlx::query_scalar(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join information_schema.columns col on col.table_schema = n.nspname and col.table_name = c.relname and col.column_name = 'tenant_id'
         where c.relkind = 'r' and not (c.relrowsecurity and c.relforcerowsecurity)",
    )
    .fetch_one(&pool)
    .await
    .expect("tables");
    assert_eq!(
        unforced, 0,
        "every table with tenant_id has RLS enabled and forced"
    );

    let tenant_a = TenantId(Uuid::new_v4());
    let tenant_b = TenantId(Uuid::new_v4());
    for tenant in [tenant_a, tenant_b] {
        let mut tx = TenantTx::begin_for_tenant(&pool, tenant).await.expect("tx");
        sqlx::query("insert into brands.brands (tenant_id, brand_id, name, currency_code, time_zone) values ($1, $2, $3, 'USD', 'UTC')")
            .bind(tenant.0)
            .bind(Uuid::new_v4())
            .bind(format!("brand of {tenant}"))
            .execute(tx.conn())
            .await
            .expect("own insert");
        tx.commit().await.expect("commit");
    }

    // No tenant context: nothing visible, nothing writable.
    let visible: i64 = sqlx::query_scalar("select count(*) from brands.brands")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(visible, 0);
    let insert = sqlx::query("insert into brands.brands (tenant_id, brand_id, name, currency_code, time_zone) values ($1, $2, 'x', 'USD', 'UTC')")
        .bind(tenant_a.0)
        .bind(Uuid::new_v4())
        .execute(&pool)
        .await
        .expect_err("insert without context must fail");
    assert!(pp_db::DbError::from(insert).is_rls_violation());

    // Tenant A's context cannot write a tenant-B row.
    let mut tx = TenantTx::begin_for_tenant(&pool, tenant_a)
        .await
        .expect("tx");
    let cross = sqlx::query("insert into brands.brands (tenant_id, brand_id, name, currency_code, time_zone) values ($1, $2, 'y', 'USD', 'UTC')")
        .bind(tenant_b.0)
        .bind(Uuid::new_v4())
        .execute(tx.conn())
        .await
        .expect_err("cross-tenant insert must fail");
    assert!(pp_db::DbError::from(cross).is_rls_violation());
    tx.rollback().await.expect("rollback");

    // One connection, alternating tenants: each sees exactly its own row, and the
    // context never outlives its transaction.
    for round in 0..40 {
        let tenant = if round % 2 == 0 { tenant_a } else { tenant_b };
        let mut tx = TenantTx::begin_for_tenant(&pool, tenant).await.expect("tx");
        let rows: Vec<Uuid> = sqlx::query_scalar("select tenant_id from brands.brands")
            .fetch_all(tx.conn())
            .await
            .expect("rows");
        assert_eq!(rows, vec![tenant.0], "round {round}");
        if round % 3 == 0 {
            tx.rollback().await.expect("rollback")
        } else {
            tx.commit().await.expect("commit")
        }
        let leaked: i64 = sqlx::query_scalar("select count(*) from brands.brands")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(leaked, 0, "context leaked after round {round}");
    }
}

#[tokio::test]
async fn other_services_see_only_the_token_state_function_of_auth() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let pool = stack.db.pool_as("brands", 1).await.expect("pool");
    let read = sqlx::query("select * from auth.users")
        .fetch_all(&pool)
        .await
        .expect_err("no table access");
    assert!(read.to_string().contains("permission denied"), "{read}");
    let state: String =
        sqlx::query_scalar("select auth.token_state($1::uuid, $2::uuid, gen_random_uuid(), null)")
            .bind(&tenant.tenant_id)
            .bind(&tenant.admin_id)
            .fetch_one(&pool)
            .await
            .expect("function");
    assert_eq!(state, "active");
    let other: String = sqlx::query_scalar(
        "select auth.token_state(gen_random_uuid(), $1::uuid, gen_random_uuid(), null)",
    )
    .bind(&tenant.admin_id)
    .fetch_one(&pool)
    .await
    .expect("function");
    assert_eq!(
        other, "tenant_inactive",
        "a user id under another tenant is not active"
    );
}

#[tokio::test]
async fn entering_a_tenant_closes_the_login_lookup() {
    let db = pulsepoint_e2e::migrated_db().await.expect("db");
    let pool = db.pool_as("auth", 1).await.expect("pool");
    let email = format!("shared-{}@example.com", Uuid::new_v4().simple());
    let (tenant_a, tenant_b) = (TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4()));
    for tenant in [tenant_a, tenant_b] {
        let mut tx = TenantTx::begin_for_tenant(&pool, tenant).await.expect("tx");
        sqlx::query("insert into auth.tenants (tenant_id, name) values ($1, 'T')")
            .bind(tenant.0)
            .execute(tx.conn())
            .await
            .expect("tenant");
        sqlx::query(
            "insert into auth.users (tenant_id, user_id, email, role) values ($1, $2, $3, 'admin')",
        )
        .bind(tenant.0)
        .bind(Uuid::new_v4())
        .bind(&email)
        .execute(tx.conn())
        .await
        .expect("user");
        tx.commit().await.expect("commit");
    }
    let mut tx = TenantTx::begin_lookup(&pool, pp_db::Lookup::LoginEmail, &email)
        .await
        .expect("lookup");
    assert_eq!(
        visible_users(&mut tx).await,
        2,
        "the lookup sees the email in every tenant"
    );
    tx.enter_tenant(tenant_a).await.expect("enter");
    assert_eq!(
        visible_users(&mut tx).await,
        1,
        "inside tenant A nothing of tenant B stays visible"
    );
}

async fn visible_users(tx: &mut TenantTx) -> i64 {
    sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(tx.conn())
        .await
        .expect("count")
}
