//! The fingerprint: the key of an error group.

use sha2::{Digest, Sha256};

/// SHA-256 of the normalized template, as 64 lowercase hex digits.
pub fn fingerprint(template: &str) -> String {
    hex::encode(Sha256::digest(template.as_bytes()))
}

/// True when `s` has the shape of a fingerprint (64 lowercase hex digits).
pub fn is_fingerprint(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_hex() {
        // sha256("") is a well-known constant.
        assert_eq!(
            fingerprint(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_fingerprint(&fingerprint(
            "HTTP 500 at /api/foo user_id=*"
        )));
    }

    #[test]
    fn shape_check() {
        for (s, ok) in [
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                true,
            ),
            (
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                false,
            ),
            ("e3b0c442", false),
            (
                "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                false,
            ),
            ("", false),
        ] {
            assert_eq!(is_fingerprint(s), ok, "{s}");
        }
    }
}
