//! Which repository paths the fix generator may read and change: the one rule both the
//! context (what the model is shown) and the validation (what reaches GitHub) apply.
//!
//! A path is refused when it could hurt more than a source file: CI and workflow files,
//! build and deploy files, lockfiles, environment and secret files, binary files, anything
//! outside the repository (absolute, `..`), and anything that is not a plain relative path.

/// Why a path is not allowed, or `None` when it is.
pub fn refuse_path(path: &str) -> Option<String> {
    let why = |what: &str| Some(format!("{path}: {what}"));
    if path.is_empty() {
        return Some("an empty path".into());
    }
    if path.len() > 300 {
        return why("path too long");
    }
    if path.chars().any(|c| c.is_control()) || path.contains('\\') {
        return why("control characters or backslashes in the path");
    }
    if path.starts_with('/') || path.starts_with('~') || path.contains(':') {
        return why("not a path relative to the repository");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return why("path traversal or empty component");
    }
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let dirs = &parts[..parts.len() - 1];
    let in_dir = |d: &str| dirs.iter().any(|p| p.eq_ignore_ascii_case(d));
    if in_dir(".github") || in_dir(".circleci") || in_dir(".buildkite") || in_dir(".gitlab") {
        return why("CI and workflow files are never changed");
    }
    if in_dir(".git") || in_dir(".ssh") || in_dir(".aws") || in_dir(".railway") {
        return why("repository, credential and deploy folders are never changed");
    }
    const CI_FILES: &[&str] = &[
        ".gitlab-ci.yml",
        ".travis.yml",
        "jenkinsfile",
        "azure-pipelines.yml",
        "bitbucket-pipelines.yml",
        "appveyor.yml",
        ".drone.yml",
        "cloudbuild.yaml",
        "cloudbuild.yml",
    ];
    if CI_FILES.contains(&name) {
        return why("CI and workflow files are never changed");
    }
    const BUILD_FILES: &[&str] = &[
        "makefile",
        "procfile",
        "railway.json",
        "railway.toml",
        "nixpacks.toml",
        "fly.toml",
        "vercel.json",
        "netlify.toml",
        "render.yaml",
        ".gitmodules",
        ".gitattributes",
        "build.rs",
    ];
    if name.starts_with("dockerfile")
        || name.ends_with(".dockerfile")
        || name.starts_with("docker-compose")
        || name.starts_with("compose.y")
        || name == ".dockerignore"
        || BUILD_FILES.contains(&name)
    {
        return why("build and deploy files are never changed");
    }
    const LOCKFILES: &[&str] = &[
        "cargo.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
        "pubspec.lock",
        "packages.lock.json",
        "flake.lock",
    ];
    if LOCKFILES.contains(&name) || name.ends_with(".lock") || name.ends_with(".lockb") {
        return why("lockfiles are never changed");
    }
    const SECRET_NAMES: &[&str] = &[
        ".npmrc",
        ".pypirc",
        ".netrc",
        ".htpasswd",
        "id_rsa",
        "id_ed25519",
        "id_ecdsa",
        "credentials",
        "credentials.json",
        ".git-credentials",
    ];
    const SECRET_EXTS: &[&str] = &[
        "pem", "key", "p12", "pfx", "jks", "keystore", "crt", "cer", "der", "asc", "gpg", "kdbx",
        "tfvars", "tfstate",
    ];
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if name.starts_with(".env")
        || name.ends_with(".env")
        || SECRET_NAMES.contains(&name)
        || name.starts_with("secret")
        || name.contains("secrets.")
        || SECRET_EXTS.contains(&ext)
    {
        return why("environment and secret files are never changed");
    }
    const BINARY_EXTS: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "webp", "ico", "bmp", "tiff", "pdf", "zip", "gz", "tgz",
        "bz2", "xz", "zst", "7z", "rar", "jar", "war", "class", "exe", "dll", "so", "dylib", "a",
        "o", "obj", "wasm", "bin", "dat", "db", "sqlite", "sqlite3", "woff", "woff2", "ttf", "otf",
        "eot", "mp3", "mp4", "mov", "avi", "webm", "ogg", "wav", "pyc", "pyo", "node",
    ];
    if BINARY_EXTS.contains(&ext) {
        return why("binary files are never changed");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_allowed_or_refused_by_kind() {
        let cases: &[(&str, bool)] = &[
            ("src/session.rs", true),
            ("checkout/db.py", true),
            ("src/routes/cart.js", true),
            ("internal/jobs/email.go", true),
            ("lib/env_loader.py", true),
            (".github/workflows/ci.yml", false),
            ("../../.github/workflows/x.yml", false),
            ("src/../.github/workflows/x.yml", false),
            ("sub/.github/actions/a.yml", false),
            (".GitHub/workflows/x.yml", false),
            ("/etc/passwd", false),
            ("/app/src/session.rs", false),
            ("C:/x.py", false),
            ("src//x.py", false),
            ("./src/x.py", false),
            ("src\\x.py", false),
            ("src/x.py\n.github/y", false),
            ("", false),
            (".gitlab-ci.yml", false),
            ("Jenkinsfile", false),
            (".circleci/config.yml", false),
            ("Dockerfile", false),
            ("docker/Dockerfile.prod", false),
            ("api.dockerfile", false),
            ("docker-compose.yml", false),
            ("railway.json", false),
            ("Makefile", false),
            ("build.rs", false),
            ("Cargo.lock", false),
            ("web/package-lock.json", false),
            ("yarn.lock", false),
            ("poetry.lock", false),
            ("go.sum", false),
            (".env", false),
            (".env.production", false),
            ("config/prod.env", false),
            ("deploy/secrets.yaml", false),
            ("certs/server.pem", false),
            ("keys/id_rsa", false),
            (".npmrc", false),
            (".git/config", false),
            ("static/logo.png", false),
            ("bin/tool.exe", false),
            ("app.wasm", false),
        ];
        for (path, allowed) in cases {
            assert_eq!(
                refuse_path(path).is_none(),
                *allowed,
                "{path}: {:?}",
                refuse_path(path)
            );
        }
    }
}
