//! Turning order plans into [`Order`] records: the only place that allocates strings,
//! and only by cloning what the catalog and marketing tables already hold (plus the
//! order's own ids, written without the formatting machinery).

use chrono::{DateTime, Utc};

use super::DemoStore;
use super::engine::{Engine, OrderPlan};
use super::marketing::AD_PLATFORMS;
use crate::{Customer, Order, OrderLine, Refund, RefundLine, Touchpoint};

/// The demo store's orders, oldest first, generated as they are read.
pub struct Orders<'s> {
    store: &'s DemoStore,
    engine: Engine<'s>,
    remaining: u64,
}

impl<'s> Orders<'s> {
    pub(super) fn new(store: &'s DemoStore) -> Self {
        Self {
            store,
            engine: Engine::new(store),
            remaining: store.order_count(),
        }
    }
}

impl Iterator for Orders<'_> {
    type Item = Order;

    fn next(&mut self) -> Option<Order> {
        let plan = self.engine.next_plan()?;
        self.remaining -= 1;
        Some(materialize(self.store, &plan))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Orders<'_> {}

pub(super) fn instant(unix_seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default()
}

/// `prefix` followed by `number` in decimal.
fn numbered(prefix: &str, number: u64) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = number;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut text = String::with_capacity(prefix.len() + digits.len() - start + 3);
    text.push_str(prefix);
    text.extend(digits[start..].iter().map(|&d| char::from(d)));
    text
}

fn line_id(order_number: u64, line: usize) -> String {
    let mut id = numbered("demo-line-", order_number);
    id.push('-');
    id.push(char::from(b'1' + line as u8));
    id
}

fn materialize(store: &DemoStore, plan: &OrderPlan) -> Order {
    let catalog = &store.catalog;
    let marketing = &store.marketing;
    let number = plan.index + 1;

    let lines: Vec<OrderLine> = plan
        .lines()
        .iter()
        .enumerate()
        .map(|(k, line)| {
            let sellable = &catalog.variants[line.variant as usize];
            let product = &catalog.products[sellable.product];
            let variant = &product.variants[sellable.variant];
            OrderLine {
                platform_line_id: line_id(number, k),
                platform_product_id: Some(product.platform_product_id.clone()),
                platform_variant_id: Some(variant.platform_variant_id.clone()),
                sku: variant.sku.clone(),
                title: sellable.line_title.clone(),
                quantity: line.quantity,
                unit_price_micros: sellable.price_micros,
                discount_micros: line.discount_micros,
            }
        })
        .collect();

    let refunds = plan
        .refund
        .map(|refund| {
            let refund_lines = match refund.line {
                Some((k, quantity)) => vec![RefundLine {
                    platform_line_id: lines[k as usize].platform_line_id.clone(),
                    quantity,
                    subtotal_micros: refund.subtotal_micros,
                }],
                None => lines
                    .iter()
                    .map(|line| RefundLine {
                        platform_line_id: line.platform_line_id.clone(),
                        quantity: line.quantity,
                        subtotal_micros: line.unit_price_micros * i64::from(line.quantity)
                            - line.discount_micros,
                    })
                    .collect(),
            };
            Refund {
                platform_refund_id: numbered("demo-refund-", number),
                created_at: instant(refund.at),
                amount_micros: refund.amount_micros,
                lines: refund_lines,
            }
        })
        .into_iter()
        .collect();

    let touchpoints: Vec<Touchpoint> = plan
        .touches()
        .iter()
        .map(|touch| {
            let source = &marketing.sources[touch.source as usize];
            Touchpoint {
                occurred_at: instant(touch.at),
                channel: source.channel,
                platform: source.slot.map(|slot| AD_PLATFORMS[slot]),
                platform_campaign_id: source
                    .campaign
                    .map(|c| marketing.campaigns[c].campaign.platform_campaign_id.clone()),
                utm: source.utm.clone(),
            }
        })
        .collect();
    // The order's session is its last touch.
    let last_touch = plan
        .touches()
        .last()
        .map(|t| &marketing.sources[t.source as usize]);

    let processed_at = instant(plan.processed_at);
    Order {
        platform_order_id: numbered("demo-order-", number),
        name: numbered("#", 1_000 + number),
        created_at: processed_at,
        processed_at,
        updated_at: instant(plan.updated_at()),
        cancelled_at: plan.cancelled_at.map(instant),
        currency: store.config.currency.clone(),
        subtotal_micros: plan.subtotal_micros,
        discounts_micros: plan.discounts_micros,
        shipping_micros: plan.shipping_micros,
        tax_micros: plan.tax_micros,
        total_micros: plan.total_micros,
        test: plan.test,
        customer: Some(Customer {
            platform_customer_id: numbered("demo-customer-", plan.customer + 1),
            created_at: Some(instant(plan.customer_created_at)),
        }),
        source_name: Some("web".to_owned()),
        landing_site: last_touch.map(|s| s.landing_site.clone()),
        referring_site: last_touch.and_then(|s| s.referring_site.clone()),
        utm: last_touch.map(|s| s.utm.clone()).unwrap_or_default(),
        lines,
        refunds,
        touchpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_in_decimal() {
        assert_eq!(numbered("demo-order-", 0), "demo-order-0");
        assert_eq!(numbered("demo-order-", 1_234_567), "demo-order-1234567");
        assert_eq!(numbered("#", u64::MAX), format!("#{}", u64::MAX));
        assert_eq!(line_id(42, 3), "demo-line-42-4");
    }
}
