# Signalbox: one image, one binary plus the UI's static site.
# Stage 1 builds the release binary and the wasm bundle; stage 2 is a slim runtime.

FROM rust:1-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY Cargo.toml Cargo.lock ./
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock.
RUN cargo install wasm-bindgen-cli --version "$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
COPY . .
RUN scripts/build-site.sh release \
 && cargo build --release -p signalbox-server --bin signalbox

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /app
COPY --from=build /src/target/release/signalbox /usr/local/bin/signalbox
COPY --from=build /src/target/site /app/site
WORKDIR /app
# SQLite on the volume mounted at /data unless DATABASE_URL points at Postgres.
ENV LEPTOS_SITE_ROOT=/app/site \
    DATABASE_URL=sqlite:///data/signalbox.db \
    LOG_FORMAT=json \
    PORT=3000
EXPOSE 3000
# Exec form: SIGTERM from Railway reaches signalbox directly for a graceful shutdown.
CMD ["signalbox", "serve"]
