//! Fake Grafana Loki (query_range); see `../shared/specs/loki.md`.
