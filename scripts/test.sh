#!/usr/bin/env bash
# The test command: makes sure the real test services are there (Postgres on 127.0.0.1:5432,
# Dovecot, aiosmtpd; see scripts/setup-services.sh), then runs every test target.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh intake` or `scripts/test.sh -- --nocapture`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-services.sh
exec cargo test --all-targets "$@"
