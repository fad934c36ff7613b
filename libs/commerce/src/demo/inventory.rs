//! Stock per variant and location, simulated day by day alongside the order stream:
//! sales take stock, a reorder-point policy places purchase orders that arrive after
//! the product's lead time, and a few chosen SKUs are starved by their supplier near
//! the end so the store has something to warn about.
//!
//! The state is a handful of numbers per variant and location, whatever the number of
//! orders; the stock at the end always equals start + restocked − sold.

use rand::Rng;
use rand::seq::SliceRandom;

use super::calendar::Calendar;
use super::catalog::Catalog;
use super::engine;
use super::rng;

/// Days of sales remembered for the trailing velocity (and `sold_last_28_days`).
const TRAILING_DAYS: usize = 28;
/// A reorder is placed when stock plus what is on order covers less than 2 × lead time +
/// this many days, so a purchase order arrives while the shelf still covers more than
/// its lead time.
const SAFETY_DAYS: f64 = 21.0;
/// Extra safety stock, in units per day of lead time per √(units a day): a slow seller's
/// sales over 28 days are noisy, and the shelf must still cover its lead time when a
/// good month makes it look faster than it is (about +3 standard deviations).
const NOISE_SAFETY: f64 = 1.5;
/// A purchase order covers this many days of sales.
const ORDER_COVER_DAYS: f64 = 45.0;
const MIN_REORDER_POINT_UNITS: f64 = 6.0;
const MIN_ORDER_UNITS: i64 = 12;
/// A starved SKU ends the period with this fraction of its lead time in cover.
const STARVED_END_COVER: f64 = 0.25;
const MIN_STARVED_LEAD_DAYS: u32 = 14;

pub(super) struct Location {
    pub(super) id: String,
    pub(super) name: String,
    /// Share of orders this location is asked to fulfil first.
    pub(super) share: f64,
}

/// What is decided before the simulation runs: locations, starting stock and which
/// SKUs will run low.
pub(super) struct StockPlan {
    pub(super) locations: Vec<Location>,
    /// Expected units of each variant in one order.
    units_per_order: Vec<f64>,
    starved: Vec<bool>,
    starting: Vec<i64>,
}

impl StockPlan {
    pub(super) fn new(seed: u64, catalog: &Catalog, calendar: &Calendar) -> Self {
        let mut rng = rng::stream(seed, rng::streams::INVENTORY);
        let mut locations = vec![Location {
            id: "demo-location-1".to_owned(),
            name: "Main Warehouse".to_owned(),
            share: 1.0,
        }];
        if rng.random_bool(0.6) {
            locations[0].share = 0.65;
            locations.push(Location {
                id: "demo-location-2".to_owned(),
                name: "East Coast 3PL".to_owned(),
                share: 0.35,
            });
        }

        let total_weight = catalog.cumulative_weight.last().copied().unwrap_or(1) as f64;
        let units_per_line = engine::expected_lines() * engine::expected_quantity();
        let units_per_order: Vec<f64> = catalog
            .variants
            .iter()
            .map(|v| units_per_line * v.weight as f64 / total_weight)
            .collect();

        // Starve 2–4 good sellers (not the very top two, which a brand watches closely)
        // whose lead time is long enough for "less cover than lead time" to be clear.
        let mut by_demand: Vec<usize> = (0..units_per_order.len()).collect();
        by_demand.sort_by(|&a, &b| {
            units_per_order[b]
                .total_cmp(&units_per_order[a])
                .then(a.cmp(&b))
        });
        let mut candidates: Vec<usize> = by_demand
            .iter()
            .copied()
            .skip(2)
            .filter(|&v| catalog.variants[v].lead_time_days >= MIN_STARVED_LEAD_DAYS)
            .take(12)
            .collect();
        if candidates.len() < 2 {
            candidates = by_demand.iter().copied().skip(2).take(12).collect();
        }
        candidates.shuffle(&mut rng);
        let mut starved = vec![false; units_per_order.len()];
        let count = rng.random_range(2..=4usize).min(candidates.len());
        for &v in &candidates[..count] {
            starved[v] = true;
        }

        let opening_orders = calendar
            .smooth_orders
            .get(6)
            .or(calendar.smooth_orders.last())
            .copied()
            .unwrap_or(0.0);
        let mut starting = Vec::with_capacity(units_per_order.len() * locations.len());
        for (v, variant) in catalog.variants.iter().enumerate() {
            for location in &locations {
                let velocity = opening_orders * units_per_order[v] * location.share;
                let cycle_stock = velocity * rng.random_range(0.0..ORDER_COVER_DAYS);
                starting.push(
                    (reorder_point(velocity, variant.lead_time_days) + cycle_stock).ceil() as i64,
                );
            }
        }
        Self {
            locations,
            units_per_order,
            starved,
            starting,
        }
    }
}

fn reorder_point(velocity: f64, lead_time_days: u32) -> f64 {
    let lead = f64::from(lead_time_days);
    let point = velocity * (2.0 * lead + SAFETY_DAYS) + NOISE_SAFETY * lead * velocity.sqrt();
    point.max(MIN_REORDER_POINT_UNITS)
}

#[derive(Clone)]
struct Cell {
    starting: i64,
    available: i64,
    restocked: i64,
    sold: i64,
    recent: [u32; TRAILING_DAYS],
    /// Purchase orders not yet received, oldest first.
    incoming: Vec<PurchaseOrder>,
}

#[derive(Clone, Copy)]
struct PurchaseOrder {
    arrives_on_day: u32,
    units: i64,
}

/// The running stock of every variant at every location.
pub(super) struct StockSim {
    locations: usize,
    cells: Vec<Cell>,
}

impl StockSim {
    pub(super) fn new(plan: &StockPlan) -> Self {
        let cells = plan
            .starting
            .iter()
            .map(|&units| Cell {
                starting: units,
                available: units,
                restocked: 0,
                sold: 0,
                recent: [0; TRAILING_DAYS],
                incoming: Vec::new(),
            })
            .collect();
        Self {
            locations: plan.locations.len(),
            cells,
        }
    }

    pub(super) fn location_count(&self) -> usize {
        self.locations
    }

    fn cell_index(&self, variant: usize, location: usize) -> usize {
        variant * self.locations + location
    }

    /// Morning of `day`: forget the sales of 28 days ago and receive what arrives today.
    /// A starved SKU's supplier ships only enough to reach a low target by the end.
    pub(super) fn open_day(
        &mut self,
        day: u32,
        plan: &StockPlan,
        catalog: &Catalog,
        calendar: &Calendar,
    ) {
        for (index, cell) in self.cells.iter_mut().enumerate() {
            cell.recent[day as usize % TRAILING_DAYS] = 0;
            // One lead time per variant, so purchase orders arrive in the order placed.
            while cell
                .incoming
                .first()
                .is_some_and(|o| o.arrives_on_day <= day)
            {
                let order = cell.incoming.remove(0);
                let (variant, location) = (index / self.locations, index % self.locations);
                let mut units = order.units;
                if plan.starved[variant] {
                    // Ship only what keeps the shelf on course to end the period with
                    // a fraction of a lead time in cover, at the pace it sells now.
                    let days_seen = (day as usize).min(TRAILING_DAYS);
                    let pace = if days_seen == 0 {
                        calendar.smooth_orders[0]
                            * plan.units_per_order[variant]
                            * plan.locations[location].share
                    } else {
                        f64::from(cell.recent.iter().sum::<u32>()) / days_seen as f64
                    };
                    let lead = f64::from(catalog.variants[variant].lead_time_days);
                    let days_left = f64::from(calendar.days - day);
                    let room = ((STARVED_END_COVER * lead + days_left) * pace).floor() as i64
                        - cell.available;
                    units = units.min(room.max(0));
                }
                cell.available += units;
                cell.restocked += units;
            }
        }
    }

    /// Evening of `day`: place a purchase order where stock plus what is on order fell
    /// to the reorder point.
    pub(super) fn close_day(
        &mut self,
        day: u32,
        plan: &StockPlan,
        catalog: &Catalog,
        calendar: &Calendar,
    ) {
        let expected_orders = calendar.smooth_orders[day as usize];
        let days_seen = (day as usize + 1).min(TRAILING_DAYS) as f64;
        for (index, cell) in self.cells.iter_mut().enumerate() {
            let (variant, location) = (index / self.locations, index % self.locations);
            let expected =
                expected_orders * plan.units_per_order[variant] * plan.locations[location].share;
            let trailing = cell.recent.iter().map(|&u| f64::from(u)).sum::<f64>() / days_seen;
            let since_start = cell.sold as f64 / f64::from(day + 1);
            let velocity = expected.max(trailing).max(since_start);
            let lead = catalog.variants[variant].lead_time_days;
            let on_order: i64 = cell.incoming.iter().map(|o| o.units).sum();
            if ((cell.available + on_order) as f64) <= reorder_point(velocity, lead) {
                cell.incoming.push(PurchaseOrder {
                    arrives_on_day: day + lead,
                    units: ((velocity * ORDER_COVER_DAYS).ceil() as i64).max(MIN_ORDER_UNITS),
                });
            }
        }
    }

    /// Units of `variant` on hand at all locations.
    pub(super) fn available(&self, variant: usize) -> i64 {
        let start = self.cell_index(variant, 0);
        self.cells[start..start + self.locations]
            .iter()
            .map(|c| c.available)
            .sum()
    }

    /// Takes up to `wanted` units of `variant`, from `preferred` location first, then the
    /// other; returns how many were taken (all from one location, as one shipment).
    pub(super) fn take(&mut self, variant: usize, wanted: i32, preferred: usize, day: u32) -> i32 {
        for offset in 0..self.locations {
            let location = (preferred + offset) % self.locations;
            let index = self.cell_index(variant, location);
            let cell = &mut self.cells[index];
            let taken = i64::from(wanted).min(cell.available);
            if taken > 0 {
                cell.available -= taken;
                cell.sold += taken;
                cell.recent[day as usize % TRAILING_DAYS] += taken as u32;
                return taken as i32;
            }
        }
        0
    }

    /// The variant with the most stock; if everything is sold out, an emergency delivery
    /// of the best seller first (counted as a restock), so no order is ever empty.
    pub(super) fn best_stocked(&mut self, best_seller: usize) -> usize {
        let variants = self.cells.len() / self.locations;
        let best = (0..variants)
            .max_by_key(|&v| (self.available(v), std::cmp::Reverse(v)))
            .unwrap_or(0);
        if self.available(best) > 0 {
            return best;
        }
        let index = self.cell_index(best_seller, 0);
        self.cells[index].available += MIN_ORDER_UNITS;
        self.cells[index].restocked += MIN_ORDER_UNITS;
        best_seller
    }

    pub(super) fn ledger(&self, plan: &StockPlan, catalog: &Catalog) -> Vec<InventoryLedger> {
        self.cells
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let (v, l) = (index / self.locations, index % self.locations);
                let sellable = &catalog.variants[v];
                let variant = &catalog.products[sellable.product].variants[sellable.variant];
                InventoryLedger {
                    platform_variant_id: variant.platform_variant_id.clone(),
                    platform_inventory_item_id: variant
                        .platform_inventory_item_id
                        .clone()
                        .unwrap_or_default(),
                    sku: variant.sku.clone().unwrap_or_default(),
                    platform_location_id: plan.locations[l].id.clone(),
                    location_name: plan.locations[l].name.clone(),
                    lead_time_days: sellable.lead_time_days as i32,
                    starting: cell.starting,
                    restocked: cell.restocked,
                    sold: cell.sold,
                    available: cell.available,
                    sold_last_28_days: cell.recent.iter().map(|&u| i64::from(u)).sum(),
                }
            })
            .collect()
    }
}

/// How one variant's stock at one location moved over the period, so the end stock can
/// be checked: `available == starting + restocked - sold`, where `sold` counts the units
/// on the generated orders that are neither cancelled nor tests. Refunds do not restock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryLedger {
    pub platform_variant_id: String,
    pub platform_inventory_item_id: String,
    pub sku: String,
    pub platform_location_id: String,
    pub location_name: String,
    pub lead_time_days: i32,
    /// Stock at the start of the first day.
    pub starting: i64,
    /// Units received from suppliers during the period.
    pub restocked: i64,
    /// Units sold from this location during the period.
    pub sold: i64,
    /// Stock at the end of `end_date` (what `inventory_levels` reports).
    pub available: i64,
    /// Units sold from this location on the last 28 days.
    pub sold_last_28_days: i64,
}
