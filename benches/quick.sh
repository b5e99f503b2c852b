#!/usr/bin/env bash
# Runs every benchmark once, briefly, so they keep compiling and running in CI.
# Numbers from this mode are not measurements; see benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench datalog -- --quick --noplot
cargo bench --locked --bench rules -- --quick --noplot
cargo bench --locked --bench engine -- --quick
cargo bench --locked --bench timeline -- --quick --noplot
cargo bench --locked --bench backtest -- --quick
cargo bench --locked --bench peers -- --quick
cargo bench --locked --bench memory -- --quick
cargo bench --locked --bench restore -- --quick
