//! Identity rules, free of tonic and SQL.

pub mod passwords;
pub mod secrets;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod validate;
