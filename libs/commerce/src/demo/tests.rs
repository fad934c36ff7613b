use super::*;

fn store(seed: u64, days: u32, per_day: f64) -> DemoStore {
    let end = NaiveDate::from_ymd_opt(2025, 3, 31).unwrap_or_default();
    let mut config = DemoConfig::new(seed, end);
    config.history_days = days;
    config.orders = OrderVolume::PerDay(per_day);
    DemoStore::new(config).expect("valid config")
}

/// A returning customer's first purchase is found without remembering customers: the
/// lookup must land on exactly the order that created them.
#[test]
fn customer_lookup_finds_the_first_purchase() {
    let store = store(3, 60, 25.0);
    let calendar = &store.calendar;
    let mut next_customer = 0;
    for day in 0..calendar.days {
        for slot in 0..calendar.orders[day as usize] {
            if let Some(customer) = calendar.new_customer_at(day, slot) {
                assert_eq!(
                    calendar.customer_created_at(customer),
                    calendar.order_time(day, slot)
                );
                next_customer = next_customer.max(customer + 1);
            }
        }
    }
    // Customer numbers are dense: every number up to the last was created.
    assert_eq!(
        next_customer,
        calendar.customer_offset[calendar.days as usize]
    );
}

#[test]
fn per_day_volume_averages_out_and_the_first_day_is_all_new_customers() {
    let store = store(4, 100, 12.5);
    assert_eq!(store.order_count(), 1_250);
    let calendar = &store.calendar;
    assert_eq!(calendar.customer_offset[1], u64::from(calendar.orders[0]));
}

#[test]
fn the_plan_pass_and_the_orders_agree() {
    let store = store(5, 40, 20.0);
    let mut engine = engine::Engine::new(&store);
    for order in store.orders() {
        let plan = engine.next_plan().expect("as many plans as orders");
        assert_eq!(order.total_micros, plan.total_micros);
        assert_eq!(order.lines.len(), plan.line_count);
    }
    assert!(engine.next_plan().is_none());
}
