# The two commands of the README, plus the pieces they are made of.
.PHONY: run run-fixes test setup site build clean

# Install what is missing, build, and serve the demo dashboard on http://localhost:3000.
run: setup site build
	./target/debug/signalbox serve --demo

# The demo with Generate Fix working against the fake Claude and GitHub servers (no accounts).
run-fixes: setup site build
	scripts/run-fixes.sh

# Every test: lints, unit, integration (SQLite + PostgreSQL), promtool, browser.
test:
	scripts/test.sh

setup:
	scripts/setup.sh

site:
	scripts/build-site.sh debug

build:
	cargo build -p signalbox-server --bin signalbox

clean:
	cargo clean
