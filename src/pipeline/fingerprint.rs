//! The fingerprint: the key of an error group.

use sha2::{Digest, Sha256};

use super::grouping;
use super::normalize::normalize_into;
use crate::model::Exception;

/// SHA-256 of the normalized template, as 64 lowercase hex digits.
pub fn fingerprint(template: &str) -> String {
    lower_hex(&Sha256::digest(template.as_bytes()))
}

/// `bytes` as lowercase hex digits.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    // A digest at a time through a buffer on the stack: one allocation, no per-char push.
    for chunk in bytes.chunks(32) {
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(chunk) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        // Only ASCII digits and letters were written.
        out.push_str(std::str::from_utf8(&hex[..chunk.len() * 2]).unwrap_or_default());
    }
    out
}

/// The in-app frames of an exception as `module-or-file:function` lines, without line numbers
/// or addresses; `None` when no frame is the application's own.
pub fn frame_signature(exception: &Exception) -> Option<String> {
    let mut signature = String::new();
    let mut location = String::new();
    for f in exception
        .frames
        .iter()
        .filter(|f| f.in_app && f.function.is_some())
    {
        if !signature.is_empty() {
            signature.push('\n');
        }
        // A file counts by its last two path segments: stable across deploy roots
        // (/app, /srv/releases/42), distinct across modules (users/views.py vs
        // orders/views.py). Hashes and numbers in names are normalized away.
        match (&f.module, &f.file) {
            (Some(module), _) => normalize_into(&mut signature, module),
            (None, Some(file)) => {
                // Normalized as one text: a token may span the separator.
                location.clear();
                let (parent, name) = file_key(file);
                if let Some(parent) = parent {
                    location.push_str(parent);
                    location.push('/');
                }
                location.push_str(name);
                normalize_into(&mut signature, &location);
            }
            (None, None) => {}
        }
        signature.push(':');
        normalize_into(&mut signature, f.function.as_deref().unwrap_or(""));
    }
    (!signature.is_empty()).then_some(signature)
}

/// The last two segments of a file path: `(parent, name)`.
fn file_key(file: &str) -> (Option<&str>, &str) {
    let mut segments = file.rsplit(['/', '\\']).filter(|s| !s.is_empty());
    let name = segments.next().unwrap_or("");
    (segments.next(), name)
}

/// The fingerprint of a group (algorithm version
/// [`ALGORITHM_VERSION`](super::normalize::ALGORITHM_VERSION)): the exception type and in-app
/// frame signature when the error has a stack, else the exception type (if any) and the
/// grouping key of its template ([`grouping::key_into`], kept codes kept: 502 is not 503).
pub fn group_fingerprint(
    error_type: Option<&str>,
    signature: Option<&str>,
    template: &str,
) -> String {
    // The hash of `v{ALGORITHM_VERSION}|stack|{type}|{signature}` or
    // `v{ALGORITHM_VERSION}|text|{type}|{key}`, written into a buffer reused from event to
    // event (no allocation) and hashed in one call.
    INPUT.with_borrow_mut(|input| {
        input.clear();
        input.push_str(match signature {
            Some(_) => STACK_PREFIX,
            None => TEXT_PREFIX,
        });
        // The type is hashed whole: the key would take a class name with digits (`S3Error`)
        // for a value.
        input.push_str(error_type.unwrap_or(""));
        input.push('|');
        match signature {
            Some(signature) => input.push_str(signature),
            None => grouping::key_into(input, template, grouping::Codes::Kept),
        }
        let digest = lower_hex(&Sha256::digest(input.as_bytes()));
        if input.capacity() > KEPT_INPUT_BYTES {
            // One huge message does not keep its buffer for the thread's life.
            *input = String::new();
        }
        digest
    })
}

/// The largest hash input buffer kept from one event to the next.
const KEPT_INPUT_BYTES: usize = 16 * 1024;

thread_local! {
    /// The text [`group_fingerprint`] hashes, reused from event to event.
    static INPUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `v{ALGORITHM_VERSION}|stack|` (a test checks it follows the version).
const STACK_PREFIX: &str = "v3|stack|";
/// `v{ALGORITHM_VERSION}|text|`.
const TEXT_PREFIX: &str = "v3|text|";

/// True when `s` has the shape of a fingerprint (64 lowercase hex digits).
pub fn is_fingerprint(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::super::normalize::ALGORITHM_VERSION;
    use super::*;

    #[test]
    fn prefixes_follow_the_algorithm_version() {
        assert_eq!(STACK_PREFIX, format!("v{ALGORITHM_VERSION}|stack|"));
        assert_eq!(TEXT_PREFIX, format!("v{ALGORITHM_VERSION}|text|"));
        assert_eq!(
            group_fingerprint(None, None, "boom <num> now"),
            fingerprint("v3|text||boom <*> now")
        );
        assert_eq!(
            group_fingerprint(Some("S3Error"), None, "S3Error: <num> denied"),
            fingerprint("v3|text|S3Error|<*> denied")
        );
        assert_eq!(
            group_fingerprint(Some("KeyError"), Some("a:b"), "x"),
            fingerprint("v3|stack|KeyError|a:b")
        );
    }

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
    fn frame_signatures_keep_the_file_not_the_deploy_root() {
        use crate::model::{Exception, Frame};
        let signature = |file: &str| {
            let exception = Exception {
                kind: "KeyError".into(),
                value: String::new(),
                frames: vec![Frame {
                    file: Some(file.into()),
                    function: Some("get".into()),
                    line: Some(3),
                    module: None,
                    in_app: true,
                }],
            };
            frame_signature(&exception)
        };
        assert_eq!(
            signature("/app/users/views.py"),
            signature("/srv/releases/42/users/views.py")
        );
        assert_ne!(
            signature("/app/users/views.py"),
            signature("/app/orders/views.py")
        );
        assert_eq!(
            signature("/app/dist/main.3f2a9c1d.js"),
            signature("/app/dist/main.77aa01bc.js")
        );
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
