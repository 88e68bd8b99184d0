//! The fingerprint: the key of an error group.

use sha2::{Digest, Sha256};

use super::normalize::{normalize_text, ALGORITHM_VERSION};
use crate::model::Exception;

/// SHA-256 of the normalized template, as 64 lowercase hex digits.
pub fn fingerprint(template: &str) -> String {
    hex::encode(Sha256::digest(template.as_bytes()))
}

/// The in-app frames of an exception as `module-or-file:function` lines, without line numbers
/// or addresses; `None` when no frame is the application's own.
pub fn frame_signature(exception: &Exception) -> Option<String> {
    let frames: Vec<String> = exception
        .frames
        .iter()
        .filter(|f| f.in_app && f.function.is_some())
        .map(|f| {
            let location = f.module.as_deref().or(f.file.as_deref()).unwrap_or("");
            let function = f.function.as_deref().unwrap_or("");
            // Anonymous functions and closures can carry numbers and addresses: drop them.
            format!("{}:{}", normalize_text(location), normalize_text(function))
        })
        .collect();
    (!frames.is_empty()).then(|| frames.join("\n"))
}

/// The fingerprint of a group (algorithm version [`ALGORITHM_VERSION`]): the exception type
/// and in-app frame signature when the error has a stack, else its template.
pub fn group_fingerprint(
    error_type: Option<&str>,
    signature: Option<&str>,
    template: &str,
) -> String {
    let input = match signature {
        Some(signature) => format!(
            "v{ALGORITHM_VERSION}|stack|{}|{signature}",
            error_type.unwrap_or("")
        ),
        None => format!("v{ALGORITHM_VERSION}|text|{template}"),
    };
    fingerprint(&input)
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
