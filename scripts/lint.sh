#!/usr/bin/env bash
# `make lint`: Rust conventions (cargo fmt --check, clippy with warnings as errors), the SAM
# template (cfn-lint with the project's rules in infra/cfn-lint-rules/ and their self-test,
# `sam validate --lint`) and the consistency check (routes == functions/ ==
# Cargo.toml watch router == docs/api.md == docs/openapi.yaml; table == infra/table.json).
# Tools pinned in .tools/lint-venv; no AWS account is needed: nothing here calls AWS.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"
yl_use_tools

echo "lint: cargo fmt --check"
cargo fmt --all -- --check
echo "lint: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --quiet --workspace --all-targets -- -D warnings

yl_ensure_lint_tools
# Dummy region and keys so that no developer's real profile is ever picked up; no telemetry.
export SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=lint-no-credentials AWS_SECRET_ACCESS_KEY=lint-no-credentials
unset AWS_PROFILE AWS_SESSION_TOKEN
# Our own rules (infra/cfn-lint-rules/): alarms, dashboard, access logs; first their self-test.
# --append-rules takes several directories: "--" ends them before the template.
echo "lint: cfn-lint rules self-test (infra/cfn-lint-rules/_selftest.py)"
"$YL_LINT_VENV/bin/python" infra/cfn-lint-rules/_selftest.py
echo "lint: cfn-lint --append-rules infra/cfn-lint-rules infra/template.yaml"
"$YL_LINT_VENV/bin/cfn-lint" --append-rules infra/cfn-lint-rules -- infra/template.yaml
echo "lint: sam validate --lint"
"$YL_LINT_VENV/bin/sam" validate --lint --template infra/template.yaml --region us-east-1
echo "lint: consistency"
"$YL_LINT_VENV/bin/python" scripts/check_consistency.py
