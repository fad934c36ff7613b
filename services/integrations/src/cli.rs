//! The service binary's commands besides serving: `reencrypt` (key rotation) and
//! `demo` (a demo store at scale, for benchmarks).

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use pp_commerce::Platform;
use pp_commerce::demo::{DemoConfig, OrderVolume};
use pp_config::{ExposeSecret, Source};
use pp_db::{Lookup, PgPool, TenantTx};
use pp_types::TenantId;
use uuid::Uuid;

use crate::store::integrations as store;

#[derive(Parser)]
#[command(name = "pulsepoint-integrations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new local key file for sealing provider tokens (development).
    Keygen {
        /// Where to write it (created with mode 0600; refused if it exists).
        path: std::path::PathBuf,
    },
    /// Re-seal every stored provider token under the active key: after adding a key to
    /// PULSEPOINT_TOKEN_KEY_FILE, or a new primary version of the Cloud KMS key.
    Reencrypt {
        /// First add a new key with this id to the local key file and make it active.
        #[arg(long)]
        new_local_key: Option<String>,
    },
    /// Generate a demo store for one brand through the real upsert path.
    Demo {
        /// Orders to generate.
        #[arg(long, default_value_t = 10_000)]
        orders: u64,
        /// Generator seed (same seed, same store).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Days the orders spread over.
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long)]
        tenant: Uuid,
        #[arg(long)]
        brand: Uuid,
        /// Orders per upsert batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// No progress bar (logs and benchmarks).
        #[arg(long)]
        quiet: bool,
    },
}

type CliError = Box<dyn std::error::Error + Send + Sync>;

async fn pool(source: &Source) -> Result<PgPool, CliError> {
    let url = source.secret("PULSEPOINT_DATABASE_URL")?;
    Ok(pp_db::connect(url.expose_secret(), 4).await?)
}

fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pulsepoint-integrations: {err}");
            ExitCode::FAILURE
        }
    }
}

pub fn keygen() -> ExitCode {
    finish((|| {
        let Command::Keygen { path } = Cli::parse().command else {
            return Err::<(), CliError>("expected `keygen`".into());
        };
        pp_vault::LocalKeyring::generate_file(
            &path,
            &format!("local-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")),
        )?;
        Ok(())
    })())
}

pub async fn reencrypt() -> ExitCode {
    finish(reencrypt_inner(Cli::parse()).await)
}

pub async fn demo() -> ExitCode {
    finish(demo_inner(Cli::parse()).await)
}

async fn reencrypt_inner(cli: Cli) -> Result<(), CliError> {
    let Command::Reencrypt { new_local_key } = cli.command else {
        return Err("expected `reencrypt`".into());
    };
    let source = Source::from_env()?;
    if let Some(key_id) = new_local_key {
        let path = source.required("PULSEPOINT_TOKEN_KEY_FILE")?;
        pp_vault::LocalKeyring::rotate_file(&path, &key_id)?;
        println!("added key {key_id} to {path}; it seals from now on");
    }
    let vault = crate::config::vault_from_source(&source)?;
    let pool = pool(&source).await?;
    let (resealed, moved) = reencrypt_all(&pool, &vault).await?;
    println!(
        "re-sealed {resealed} integration credential(s) under key {} ({moved} moved from another key id)",
        vault.active_key_id()
    );
    Ok(())
}

/// Re-seals every integration's credentials under the vault's active key, in one
/// transaction: each is opened and sealed again with a fresh data key, so a new Cloud
/// KMS primary version (same key name) is picked up too. Returns (re-sealed, moved
/// off another key id).
pub async fn reencrypt_all(pool: &PgPool, vault: &pp_vault::Vault) -> Result<(u64, u64), CliError> {
    let mut tx = TenantTx::begin_lookup(pool, Lookup::KeyRotation, "on").await?;
    let rows = store::sealed_for_rotation(&mut tx).await?;
    let (mut resealed, mut moved) = (0, 0);
    for (tenant, integration, blob) in rows {
        let aad = crate::credentials::aad(TenantId(tenant), integration);
        let previous_key = pp_vault::Vault::key_id_of(&blob)?.to_owned();
        let plaintext = vault.open(&blob, &aad).await?;
        let sealed = vault.seal(&plaintext, &aad).await?;
        store::replace_sealed(&mut tx, tenant, integration, &sealed, vault.active_key_id()).await?;
        resealed += 1;
        if previous_key != vault.active_key_id() {
            moved += 1;
        }
    }
    tx.commit().await?;
    Ok((resealed, moved))
}

async fn demo_inner(cli: Cli) -> Result<(), CliError> {
    let Command::Demo {
        orders,
        seed,
        days,
        tenant,
        brand,
        batch,
        quiet,
    } = cli.command
    else {
        return Err("expected `demo`".into());
    };
    let source = Source::from_env()?;
    let pool = pool(&source).await?;
    let report = generate(
        &pool,
        TenantId(tenant),
        brand,
        orders,
        seed,
        days,
        batch.max(1),
        quiet,
    )
    .await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// What `demo` did, printed as one JSON line (bench.sh reads it).
#[derive(Debug, serde::Serialize)]
pub struct DemoReport {
    pub orders: u64,
    pub seconds: f64,
    pub orders_per_second: f64,
    pub peak_rss_kib: Option<u64>,
}

/// Generates and upserts a demo store of `orders` orders, streaming: memory stays
/// flat as `orders` grows (one batch in flight). Loads through
/// [`crate::demo_load::load`], as the golden question set's store does.
#[allow(clippy::too_many_arguments)]
pub async fn generate(
    pool: &PgPool,
    tenant: TenantId,
    brand_id: Uuid,
    orders: u64,
    seed: u64,
    days: u32,
    batch: usize,
    quiet: bool,
) -> Result<DemoReport, CliError> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (currency, _) = store::brand(&mut tx, brand_id)
        .await?
        .ok_or("no such brand in that tenant")?;
    tx.commit().await?;
    let config = DemoConfig {
        seed,
        history_days: days,
        end_date: chrono::Utc::now().date_naive(),
        currency,
        utc_offset_minutes: 0,
        orders: OrderVolume::Total(orders),
        platforms: Platform::ALL.to_vec(),
    };
    let progress = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(orders)
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} orders [{elapsed_precise}] {bar:40} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let loaded = crate::demo_load::load(pool, tenant, brand_id, config, batch, &|written| {
        progress.set_position(written)
    })
    .await?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(DemoReport {
        orders: loaded.orders,
        seconds,
        orders_per_second: loaded.orders as f64 / seconds.max(1e-9),
        peak_rss_kib: peak_rss_kib(),
    })
}

/// The process's peak resident set (Linux `VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
