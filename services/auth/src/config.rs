//! The auth service's own settings (the shared ones are `pp_config::ServerConfig`).

use pp_config::{ConfigError, Source};

use crate::domain::passwords::PasswordPolicy;

#[derive(Debug)]
pub struct AuthConfig {
    /// PKCS#8 PEM of the Ed25519 signing key.
    pub signing_key_file: String,
    /// Older public keys still trusted during a rotation (JWKS JSON file), optional.
    pub previous_jwks_file: Option<String>,
    pub passwords: PasswordPolicy,
    /// Memory all concurrent argon2id computations may use together
    /// (`PULSEPOINT_ARGON2_MEMORY_BUDGET_MIB`, 128): their concurrency follows from it.
    /// Keep it well under the container's limit (768 Mi in k8s/).
    pub hashing_memory_budget_bytes: u64,
}

impl AuthConfig {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        Ok(AuthConfig {
            signing_key_file: source.required("PULSEPOINT_SIGNING_KEY_FILE")?,
            previous_jwks_file: source
                .raw("PULSEPOINT_PREVIOUS_JWKS_FILE")
                .map(str::to_owned),
            passwords: PasswordPolicy {
                memory_kib: source.parse(
                    "PULSEPOINT_ARGON2_MEMORY_KIB",
                    PasswordPolicy::default().memory_kib,
                )?,
                iterations: source.parse(
                    "PULSEPOINT_ARGON2_ITERATIONS",
                    PasswordPolicy::default().iterations,
                )?,
            },
            hashing_memory_budget_bytes: source
                .parse::<u64>("PULSEPOINT_ARGON2_MEMORY_BUDGET_MIB", 128)?
                .saturating_mul(1024 * 1024),
        })
    }
}
