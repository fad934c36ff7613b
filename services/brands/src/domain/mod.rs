//! Brand rules, free of tonic and SQL.

pub mod brand;
