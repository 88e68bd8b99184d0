//! Fake Railway public API (GraphQL over HTTP and graphql-transport-ws); see `../shared/specs/railway.md`.
