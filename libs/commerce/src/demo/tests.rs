use super::*;

fn store(seed: u64) -> DemoStore {
    let mut config = DemoConfig::new(
        seed,
        NaiveDate::from_ymd_opt(2025, 9, 30).unwrap_or_default(),
    );
    config.history_days = 120;
    config.orders = OrderVolume::PerDay(30.0);
    DemoStore::new(config).expect("valid config")
}

#[test]
fn smoke() {
    let store = store(1);
    assert_eq!(store.orders().count() as u64, store.order_count());
}
