//! Media links that expire: `…/media/42/seg3.ts?sub=p7&exp=1790000000000&sig=…`.
//!
//! The signature is HMAC-SHA256 over the version, the path, the subject (the
//! profile the link was made for) and the expiry, with the server's media
//! key (at least 32 bytes). A CDN or another instance with the key checks a
//! link without a database; a leaked link stops working at `exp`; changing
//! any part (another path, a later expiry, another profile) breaks the
//! signature. Comparison is constant-time (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key is shorter than 32 bytes.
    #[error("the media signing key must be at least 32 bytes")]
    ShortKey,
    /// Signed, but past its expiry.
    #[error("the link has expired")]
    Expired,
    /// Not signed by this key for this path, subject and expiry.
    #[error("the link's signature does not match")]
    BadSignature,
}

/// The parts a signed link carries besides its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLink {
    /// Who it was made for.
    pub sub: String,
    /// Expiry, Unix milliseconds.
    pub exp: i64,
    /// Lower-case hex HMAC.
    pub sig: String,
}

impl SignedLink {
    /// As a query string (`sub`, `exp`, `sig`; the subject is URL-safe by
    /// construction: callers use ids like `p7`).
    pub fn query(&self) -> String {
        format!("sub={}&exp={}&sig={}", self.sub, self.exp, self.sig)
    }
}

/// Signs and checks media links with one key.
#[derive(Clone)]
pub struct Signer {
    /// HMAC keyed once; each link starts from a clone.
    keyed: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <hidden> }")
    }
}

impl Signer {
    /// A signer with `key` (at least 32 bytes).
    pub fn new(key: &[u8]) -> Result<Signer, SignError> {
        if key.len() < 32 {
            return Err(SignError::ShortKey);
        }
        let keyed = HmacSha256::new_from_slice(key).map_err(|_| SignError::ShortKey)?;
        Ok(Signer { keyed })
    }

    fn mac(&self, path: &str, sub: &str, exp: i64) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        // Length-prefixed parts: no two (path, sub) pairs sign alike.
        for part in [path.as_bytes(), sub.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(b"marquee-media-v1");
        mac.update(&exp.to_be_bytes());
        mac
    }

    /// A link to `path` for `sub` that works until `exp` (Unix ms).
    pub fn sign(&self, path: &str, sub: &str, exp: i64) -> SignedLink {
        SignedLink {
            sub: sub.to_string(),
            exp,
            sig: hex::encode(self.mac(path, sub, exp).finalize().into_bytes()),
        }
    }

    /// Checks a link at `now` (Unix ms): the signature first (so a tampered
    /// expiry is a bad signature, not an expired link), then the expiry.
    pub fn verify(
        &self,
        path: &str,
        sub: &str,
        exp: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), SignError> {
        let sig = hex::decode(sig).map_err(|_| SignError::BadSignature)?;
        self.mac(path, sub, exp)
            .verify_slice(&sig)
            .map_err(|_| SignError::BadSignature)?;
        if now >= exp {
            return Err(SignError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_link_works_until_it_expires() {
        let s = Signer::new(KEY).unwrap();
        let l = s.sign("/media/42/seg3.ts", "p7", 2_000);
        assert_eq!(l.sig.len(), 64);
        assert_eq!(l.query(), format!("sub=p7&exp=2000&sig={}", l.sig));
        assert_eq!(
            s.verify("/media/42/seg3.ts", "p7", 2_000, &l.sig, 1_999),
            Ok(())
        );
        assert_eq!(
            s.verify("/media/42/seg3.ts", "p7", 2_000, &l.sig, 2_000),
            Err(SignError::Expired)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let s = Signer::new(KEY).unwrap();
        let l = s.sign("/media/42/seg3.ts", "p7", 2_000);
        let bad = Err(SignError::BadSignature);
        assert_eq!(s.verify("/media/42/seg4.ts", "p7", 2_000, &l.sig, 0), bad);
        assert_eq!(s.verify("/media/42/seg3.ts", "p8", 2_000, &l.sig, 0), bad);
        assert_eq!(
            s.verify("/media/42/seg3.ts", "p7", 9_000, &l.sig, 0),
            bad,
            "a later expiry"
        );
        assert_eq!(s.verify("/media/42/seg3.ts", "p7", 2_000, "zz", 0), bad);
        assert_eq!(s.verify("/media/42/seg3.ts", "p7", 2_000, "", 0), bad);
        let mut flipped = l.sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(s.verify("/media/42/seg3.ts", "p7", 2_000, &flipped, 0), bad);
        // Moving bytes between path and subject does not keep the signature.
        let a = s.sign("/media/1", "2", 5);
        assert_eq!(s.verify("/media/", "12", 5, &a.sig, 0), bad);
        // Another key.
        let other = Signer::new(b"another key of thirty-two bytes!").unwrap();
        assert_eq!(
            other.verify("/media/42/seg3.ts", "p7", 2_000, &l.sig, 0),
            bad
        );
    }

    #[test]
    fn short_keys_are_refused_and_never_printed() {
        assert_eq!(Signer::new(b"short").unwrap_err(), SignError::ShortKey);
        let s = Signer::new(KEY).unwrap();
        assert!(!format!("{s:?}").contains("0123"));
    }
}
