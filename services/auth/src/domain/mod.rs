//! Identity rules, free of tonic and SQL.

pub mod passwords;
pub mod secrets;
pub mod tokens;
pub mod validate;
