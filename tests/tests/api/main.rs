//! End-to-end tests: the whole mesh on real PostgreSQL and Redis. One binary.

mod support;

mod ads;
mod alerts;
mod answers_model;
mod attribution;
mod auth_abuse;
mod auth_flows;
mod bad_input;
mod brands;
mod cross_tenant;
mod disconnect;
mod forged_tokens;
mod gateway;
mod golden;
mod independent;
mod insights;
mod model;
mod observability;
mod observability_limits;
mod questions;
mod rbac;
mod recommendations;
mod redis_down;
mod rls;
mod server;
mod shopify;
mod sync_engine;
mod trace_propagation;
