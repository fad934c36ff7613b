//! The dashboard rows: GetDashboard's figures three ways, for `loadgen load`.
//!
//! - `--rpc get-dashboard`: the RPC through the insights server (token check, RLS
//!   transaction, the engine over the rollups, the freshness call, the response).
//! - `--rpc dashboard-sql`: the RPC's own SQL in-process: a tenant transaction, the
//!   brand lookup and `engine::dashboard` over the rollups (the `dashboard_rpc` row's
//!   baseline: the RPC's time over this is its overhead).
//! - `--rpc dashboard-raw`: the same figures by a raw scan of `commerce.*`: the
//!   catalogue's daily SQL (`pp_metrics::daily`, what the rollups are built from) over
//!   both periods, summed as the engine sums its rollup rows (the `dashboard_rollups`
//!   row's baseline).
//!
//! The first raw and SQL calls are compared figure by figure before anything is timed:
//! a run whose two sides disagree fails rather than comparing different work.
//!
//! `loadgen rollups` builds a brand's rollups (untimed set-up for those rows) and
//! prints how long it took.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use pp_db::{PgPool, TenantTx};
use pp_types::TenantId;
use pulsepoint_insights::engine::{self, DashboardFigures, Totals, Value};
use pulsepoint_insights::store::{self, BrandInfo};
use uuid::Uuid;

/// One day of the raw sales scan: day, gross, discounts, refunds, orders, units, COGS,
/// refunded COGS, new customers, new-customer revenue.
type SalesDay = (NaiveDate, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// What the in-process sides query.
#[derive(Debug)]
pub struct SqlTarget {
    pub pool: PgPool,
    pub tenant: TenantId,
    pub brand: BrandInfo,
    pub period: (NaiveDate, NaiveDate),
    pub previous: (NaiveDate, NaiveDate),
}

impl SqlTarget {
    /// Connects as the insights role (`database_url`) and reads the brand.
    pub async fn connect(
        database_url: &str,
        pool_size: u32,
        tenant_id: Uuid,
        brand_id: Uuid,
        period: (NaiveDate, NaiveDate),
    ) -> anyhow::Result<Arc<SqlTarget>> {
        let pool = pp_db::connect(database_url, pool_size).await?;
        let tenant = TenantId(tenant_id);
        let mut tx = TenantTx::begin_for_tenant(&pool, tenant).await?;
        let brand = store::brand(&mut tx, brand_id)
            .await?
            .context("the brand is not in the tenant")?;
        tx.commit().await?;
        let previous = pulsepoint_insights::api::preceding(period.0, period.1);
        let target = Arc::new(SqlTarget {
            pool,
            tenant,
            brand,
            period,
            previous,
        });
        let sql = target.engine_values().await?;
        let raw = target.raw_values().await?;
        anyhow::ensure!(
            sql == raw,
            "the rollups and the raw scan disagree:\n rollups {sql:?}\n raw     {raw:?}"
        );
        Ok(target)
    }

    /// GetDashboard's SQL: the brand lookup and `engine::dashboard`, in one tenant
    /// transaction.
    pub async fn engine(&self) -> anyhow::Result<DashboardFigures> {
        let mut tx = TenantTx::begin_for_tenant(&self.pool, self.tenant).await?;
        let brand = store::brand(&mut tx, self.brand.brand_id)
            .await?
            .context("brand gone")?;
        let figures = engine::dashboard(&mut tx, &brand, self.period, self.previous)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        tx.commit().await?;
        Ok(figures)
    }

    /// Every value of [`Self::engine`], flattened in a fixed order.
    async fn engine_values(&self) -> anyhow::Result<Vec<String>> {
        let figures = self.engine().await?;
        let flat = |lists: &[Vec<engine::Figure>]| -> Vec<String> {
            lists
                .iter()
                .flatten()
                .map(|f| format!("{:?}", f.value))
                .collect()
        };
        let mut out = flat(&figures.current);
        out.extend(flat(&figures.previous));
        out.extend(flat(&figures.series));
        out.extend(flat(&figures.channels));
        Ok(out)
    }

    /// The same values from a raw scan of `commerce.*`.
    pub async fn raw_values(&self) -> anyhow::Result<Vec<String>> {
        let mut tx = TenantTx::begin_for_tenant(&self.pool, self.tenant).await?;
        let first = self.previous.0.min(self.period.0);
        let last = self.previous.1.max(self.period.1);
        let brands = [self.brand.brand_id];
        let sales: Vec<SalesDay> = sqlx::query_as(&format!(
            "select day, sum(gross_sales_micros)::bigint, sum(discounts_micros)::bigint,
                        sum(refunds_micros)::bigint, sum(orders)::bigint, sum(units)::bigint,
                        sum(cogs_micros)::bigint, sum(refunded_cogs_micros)::bigint,
                        sum(new_customers)::bigint, sum(new_customer_revenue_micros)::bigint
                 from ({}) d group by day",
            pp_metrics::daily::daily_sales_sql()
        ))
        .bind(&brands[..])
        .bind(first)
        .bind(last)
        .fetch_all(tx.conn())
        .await?;
        let ads: Vec<(NaiveDate, String, i64, i64)> = sqlx::query_as(&format!(
            "select day, platform, sum(spend_micros)::bigint, sum(conversion_value_micros)::bigint
             from ({}) d group by day, platform",
            pp_metrics::daily::daily_ad_spend_sql()
        ))
        .bind(&brands[..])
        .bind(first)
        .bind(last)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;

        let mut by_day: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
        for (day, gross, discounts, refunds, orders, units, cogs, refunded_cogs, new, new_rev) in
            sales
        {
            let t = by_day.entry(day).or_default();
            t.gross_sales += gross;
            t.discounts += discounts;
            t.refunds += refunds;
            t.orders += orders;
            t.units += units;
            t.cogs += cogs;
            t.refunded_cogs += refunded_cogs;
            t.new_customers += new;
            t.new_customer_revenue += new_rev;
        }
        let mut by_platform: BTreeMap<String, Totals> = BTreeMap::new();
        for (day, platform, spend, value) in ads {
            let t = by_day.entry(day).or_default();
            t.spend += spend;
            t.platform_revenue += value;
            if (self.period.0..=self.period.1).contains(&day) {
                let p = by_platform.entry(platform).or_default();
                p.spend += spend;
                p.platform_revenue += value;
            }
        }
        let sum = |(start, end): (NaiveDate, NaiveDate)| {
            by_day
                .range(start..=end)
                .fold(Totals::default(), |mut acc, (_, t)| {
                    acc.gross_sales += t.gross_sales;
                    acc.discounts += t.discounts;
                    acc.refunds += t.refunds;
                    acc.orders += t.orders;
                    acc.units += t.units;
                    acc.cogs += t.cogs;
                    acc.refunded_cogs += t.refunded_cogs;
                    acc.new_customers += t.new_customers;
                    acc.new_customer_revenue += t.new_customer_revenue;
                    acc.spend += t.spend;
                    acc.platform_revenue += t.platform_revenue;
                    acc
                })
        };
        let days = |(start, end): (NaiveDate, NaiveDate)| (end - start).num_days() + 1;
        let show = |value: Value| format!("{value:?}");
        let mut out = Vec::new();
        for range in [self.period, self.previous] {
            let totals = sum(range);
            out.extend(
                engine::KPIS
                    .iter()
                    .map(|m| show(engine::value(*m, &totals, days(range)))),
            );
        }
        for metric in engine::SERIES {
            let mut day = self.period.0;
            while day <= self.period.1 {
                out.push(show(engine::value(metric, &sum((day, day)), 1)));
                day = day.succ_opt().context("date overflow")?;
            }
        }
        for metric in engine::CHANNELS {
            out.extend(
                by_platform
                    .values()
                    .map(|t| show(engine::value(metric, t, days(self.period)))),
            );
        }
        Ok(out)
    }
}

#[derive(Debug, clap::Args)]
pub struct RollupsArgs {
    /// The insights role's connection (`pp_insights`).
    #[arg(long)]
    pub database_url: String,
    #[arg(long)]
    pub tenant_id: Uuid,
    #[arg(long)]
    pub brand_id: Uuid,
}

/// `loadgen rollups`: builds every rollup day of the brand as the service does the
/// first time; prints `{"seconds": …, "result": "…"}`.
pub async fn rollups(args: RollupsArgs) -> anyhow::Result<()> {
    let pool = pp_db::connect(&args.database_url, 1).await?;
    let started = Instant::now();
    let mut tx = TenantTx::begin_for_tenant(&pool, TenantId(args.tenant_id)).await?;
    let refreshed =
        pulsepoint_insights::rollups::refresh_brand(&mut tx, args.brand_id, None).await?;
    tx.commit().await?;
    println!(
        "{}",
        serde_json::json!({
            "rollup_build_seconds": started.elapsed().as_secs_f64(),
            "rollup_refresh": format!("{refreshed:?}"),
        })
    );
    Ok(())
}
