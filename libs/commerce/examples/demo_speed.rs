//! How fast the demo store generates orders (run in release):
//! `cargo run --release -p pp-commerce --example demo_speed -- 1000000`

use std::time::Instant;

use chrono::NaiveDate;
use pp_commerce::demo::{DemoConfig, DemoStore, OrderVolume};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orders: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let end_date = NaiveDate::from_ymd_opt(2025, 12, 31).ok_or("bad date")?;
    let mut config = DemoConfig::new(42, end_date);
    config.history_days = 730;
    config.orders = OrderVolume::Total(orders);
    let store = DemoStore::new(config)?;

    let started = Instant::now();
    let mut revenue_micros: i64 = 0;
    let mut count = 0u64;
    for order in store.orders() {
        revenue_micros += order.total_micros;
        count += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "orders: {count} in {elapsed:.2} s = {:.0} orders/s (revenue {:.2})",
        count as f64 / elapsed,
        revenue_micros as f64 / 1e6
    );

    let started = Instant::now();
    let rows = store.ad_spend().count();
    println!(
        "ad spend: {rows} rows in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let levels = store.inventory_levels().len();
    println!(
        "inventory: {levels} levels in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
