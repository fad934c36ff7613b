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
    /// (`PULSEPOINT_ARGON2_MEMORY_BUDGET_MIB`): their concurrency follows from it. By
    /// default a quarter of the container's memory limit (cgroup), at most 256 MiB, or
    /// 128 MiB where no limit is set.
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
                .parse::<u64>("PULSEPOINT_ARGON2_MEMORY_BUDGET_MIB", default_budget_mib())?
                .saturating_mul(1024 * 1024),
        })
    }
}

const MIB: u64 = 1024 * 1024;

/// A quarter of the cgroup memory limit (v2, then v1), clamped to 32–256 MiB; 128 MiB
/// when the process has no limit.
fn default_budget_mib() -> u64 {
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|text| text.trim().parse::<u64>().ok())
    // cgroup v1 reports "no limit" as a huge number.
    .filter(|bytes| *bytes < (1 << 50));
    budget_for_limit(limit)
}

fn budget_for_limit(limit_bytes: Option<u64>) -> u64 {
    limit_bytes.map_or(128, |bytes| (bytes / 4 / MIB).clamp(32, 256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashing_budget_follows_the_memory_limit() {
        assert_eq!(budget_for_limit(Some(768 * MIB)), 192);
        assert_eq!(budget_for_limit(Some(64 * MIB)), 32);
        assert_eq!(budget_for_limit(Some(16 * 1024 * MIB)), 256);
        assert_eq!(budget_for_limit(None), 128);
    }
}
