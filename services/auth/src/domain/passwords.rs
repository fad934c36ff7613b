//! Password hashing: argon2id, PHC strings.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id cost. Defaults follow OWASP's minimum (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl PasswordPolicy {
    fn hasher(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .unwrap_or_else(|_| Params::default());
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        self.hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| err.to_string())
    }

    /// Checks `password` against a stored PHC string (its own parameters apply).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        PasswordHash::new(phc)
            .map(|hash| {
                self.hasher()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    /// Spends the time of one verification, so an unknown email takes as long as a
    /// wrong password (no account enumeration by timing).
    pub fn burn(&self, password: &str) {
        let _ = self.hash(password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let policy = PasswordPolicy {
            memory_kib: 1024,
            iterations: 1,
        };
        let phc = policy.hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(policy.verify("correct horse battery", &phc));
        assert!(!policy.verify("wrong", &phc));
        assert!(!policy.verify("x", "not a phc string"));
    }
}
