//! Generated code for every Pulsepoint contract, and the descriptor set that makes
//! reflection complete. Never edited by hand: `build.rs` regenerates it from `proto/`.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod pulsepoint {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.common.v1");
        }
    }
    pub mod auth {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.auth.v1");
        }
    }
    pub mod brands {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.brands.v1");
        }
    }
    pub mod integrations {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.integrations.v1");
        }
    }
    pub mod insights {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.insights.v1");
        }
    }
    pub mod observability {
        pub mod v1 {
            tonic::include_proto!("pulsepoint.observability.v1");
        }
    }
}

pub use pulsepoint::{auth::v1 as auth, brands::v1 as brands, common::v1 as common};
pub use pulsepoint::{
    insights::v1 as insights, integrations::v1 as integrations, observability::v1 as observability,
};

/// The encoded `FileDescriptorSet` of every contract (and the well-known types they import).
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("pulsepoint_descriptor");

/// Fully-qualified names of the Pulsepoint services, as reflection and health report them.
pub const SERVICE_NAMES: &[&str] = &[
    "pulsepoint.auth.v1.AuthService",
    "pulsepoint.brands.v1.BrandService",
    "pulsepoint.integrations.v1.IntegrationService",
    "pulsepoint.insights.v1.InsightsService",
    "pulsepoint.observability.v1.ObservabilityService",
];
