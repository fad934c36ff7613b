//! The demo brand's products: an outdoor-lifestyle shop with 20–40 products of 1–4
//! variants, prices by product type, a 30–75 % margin and a 5–45 day supplier lead time.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::seq::SliceRandom;

use super::rng;
use crate::{Product, Variant};

const VENDOR: &str = "Northwind Supply Co.";

const STYLES: [&str; 12] = [
    "Merino", "Everyday", "Trail", "Alpine", "Coastal", "Heritage", "Summit", "Cedar", "Harbor",
    "Canyon", "Ridge", "Fjord",
];

enum Options {
    Single,
    Sizes,
    Colors,
    Capacities,
}

/// (item, product type, options, price range in whole currency units)
const ITEMS: [(&str, &str, Options, u32, u32); 16] = [
    ("Tee", "Apparel", Options::Sizes, 24, 38),
    ("Hoodie", "Apparel", Options::Sizes, 58, 89),
    ("Joggers", "Apparel", Options::Sizes, 54, 78),
    ("Rain Jacket", "Apparel", Options::Sizes, 98, 169),
    ("Crew Socks", "Accessories", Options::Sizes, 14, 22),
    ("Beanie", "Accessories", Options::Colors, 22, 32),
    ("Cap", "Accessories", Options::Colors, 26, 34),
    ("Tote Bag", "Accessories", Options::Single, 22, 38),
    ("Sunglasses", "Accessories", Options::Colors, 45, 95),
    ("Water Bottle", "Gear", Options::Capacities, 28, 42),
    ("Backpack", "Gear", Options::Colors, 79, 149),
    ("Camp Mug", "Home", Options::Colors, 18, 28),
    ("Candle", "Home", Options::Single, 24, 36),
    ("Wool Blanket", "Home", Options::Colors, 68, 120),
    ("Field Journal", "Stationery", Options::Single, 16, 24),
    ("Trail Mix Tin", "Pantry", Options::Single, 12, 18),
];

const SIZES: [(&str, u64); 4] = [("S", 2), ("M", 3), ("L", 3), ("XL", 2)];
const COLORS: [&str; 6] = ["Black", "Sand", "Forest", "Navy", "Rust", "Stone"];
const CAPACITIES: [(&str, u64); 3] = [("500 ml", 3), ("750 ml", 4), ("1 L", 2)];

/// What an order line needs of a variant, precomputed so lines are built by cloning.
pub(super) struct SellableVariant {
    pub(super) product: usize,
    pub(super) variant: usize,
    pub(super) price_micros: i64,
    pub(super) lead_time_days: u32,
    /// Product title, plus ` - <variant>` when the product has several variants.
    pub(super) line_title: String,
    /// Popularity weight (Zipf-like over products, mid sizes favoured).
    pub(super) weight: u64,
}

pub(super) struct Catalog {
    pub(super) products: Vec<Product>,
    pub(super) variants: Vec<SellableVariant>,
    /// Cumulative popularity weights, for picking a variant.
    pub(super) cumulative_weight: Vec<u64>,
    /// URL handles of the products (for landing pages).
    pub(super) handles: Vec<String>,
}

impl Catalog {
    pub(super) fn generate(seed: u64, listed_at: DateTime<Utc>) -> Self {
        let mut rng = rng::stream(seed, rng::streams::CATALOG);
        let product_count = rng.random_range(20..=40usize);

        // Distinct (style, item) pairs, in a seeded order.
        let mut pairs: Vec<(usize, usize)> = (0..STYLES.len())
            .flat_map(|s| (0..ITEMS.len()).map(move |i| (s, i)))
            .collect();
        pairs.shuffle(&mut rng);
        // Round-robin over item types, so every type appears before any repeats.
        let mut chosen: Vec<(usize, usize)> = Vec::with_capacity(product_count);
        let mut used_items = vec![0usize; ITEMS.len()];
        for round in 0.. {
            for &(s, i) in &pairs {
                if chosen.len() == product_count {
                    break;
                }
                if used_items[i] == round && !chosen.contains(&(s, i)) {
                    used_items[i] += 1;
                    chosen.push((s, i));
                }
            }
            if chosen.len() == product_count {
                break;
            }
        }

        // Popularity: a seeded rank per product, weight ∝ 1 / (rank + 2).
        let mut ranks: Vec<u64> = (0..product_count as u64).collect();
        ranks.shuffle(&mut rng);

        let mut products = Vec::with_capacity(product_count);
        let mut variants = Vec::new();
        let mut handles = Vec::with_capacity(product_count);
        for (p, &(style, item)) in chosen.iter().enumerate() {
            let (item_name, product_type, options, low, high) = &ITEMS[item];
            let title = format!("{} {}", STYLES[style], item_name);
            handles.push(title.to_lowercase().replace(' ', "-"));
            let base_cents = i64::from(rng.random_range(*low..=*high)) * 100
                - if rng.random_bool(0.5) { 5 } else { 0 };
            let margin_basis_points = rng.random_range(3_000..=7_500i64);
            let lead_time_days = rng.random_range(5..=45u32);
            let product_weight = 1_000_000 / (ranks[p] + 2);

            let option_values: Vec<(String, u64, i64)> = match options {
                Options::Single => vec![("Default Title".to_owned(), 1, 0)],
                Options::Sizes => {
                    let count = rng.random_range(2..=4usize);
                    SIZES[..count]
                        .iter()
                        .map(|&(size, w)| (size.to_owned(), w, if size == "XL" { 400 } else { 0 }))
                        .collect()
                }
                Options::Colors => {
                    let count = rng.random_range(1..=4usize);
                    let mut colors = COLORS.to_vec();
                    colors.shuffle(&mut rng);
                    colors[..count]
                        .iter()
                        .enumerate()
                        .map(|(k, &c)| (c.to_owned(), 4 - k as u64, 0))
                        .collect()
                }
                Options::Capacities => {
                    let count = rng.random_range(1..=3usize);
                    CAPACITIES[..count]
                        .iter()
                        .enumerate()
                        .map(|(k, &(c, w))| (c.to_owned(), w, k as i64 * 400))
                        .collect()
                }
            };
            let relative_total: u64 = option_values.iter().map(|(_, w, _)| w).sum();
            let single = option_values.len() == 1;

            let product_number = p + 1;
            let mut product_variants = Vec::with_capacity(option_values.len());
            for (v, (option, relative_weight, surcharge_cents)) in
                option_values.into_iter().enumerate()
            {
                let number = variants.len() + 1;
                let price_cents = base_cents + surcharge_cents;
                let cost_cents = price_cents * (10_000 - margin_basis_points) / 10_000;
                let sku = if single {
                    format!("NW-{product_number:03}")
                } else {
                    format!("NW-{product_number:03}-{}", sku_code(&option))
                };
                product_variants.push(Variant {
                    platform_variant_id: format!("demo-variant-{number}"),
                    platform_inventory_item_id: Some(format!("demo-inventory-item-{number}")),
                    sku: Some(sku),
                    title: option.clone(),
                    price_micros: price_cents * 10_000,
                    unit_cost_micros: Some(cost_cents * 10_000),
                    lead_time_days: Some(lead_time_days as i32),
                });
                variants.push(SellableVariant {
                    product: p,
                    variant: v,
                    price_micros: price_cents * 10_000,
                    lead_time_days,
                    line_title: if single {
                        title.clone()
                    } else {
                        format!("{title} - {option}")
                    },
                    weight: (product_weight * relative_weight / relative_total).max(1),
                });
            }
            products.push(Product {
                platform_product_id: format!("demo-product-{product_number}"),
                title,
                vendor: Some(VENDOR.to_owned()),
                product_type: Some((*product_type).to_owned()),
                status: "active".to_owned(),
                updated_at: listed_at,
                variants: product_variants,
            });
        }
        let cumulative_weight = rng::cumulative(variants.iter().map(|v| v.weight));
        Self {
            products,
            variants,
            cumulative_weight,
            handles,
        }
    }
}

/// `M` → `M`, `Forest` → `FOR`, `500 ml` → `500ML`.
fn sku_code(option: &str) -> String {
    let compact: String = option.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.chars().all(|c| c.is_ascii_uppercase()) {
        compact
    } else if compact.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        compact.to_uppercase()
    } else {
        compact.chars().take(3).collect::<String>().to_uppercase()
    }
}
