//! SQL, one module per concern. The tenant reaches SQL only through `TenantTx`.

pub mod commerce;
pub mod integrations;
pub mod sync_runs;

pub const SCHEMA: &str = "integrations";
