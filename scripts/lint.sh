#!/usr/bin/env bash
# `make lint` for the infrastructure: cfn-lint, `sam validate --lint`, and the consistency check
# (routes == functions/ == Cargo.toml watch router == README == docs/openapi.yaml; table ==
# infra/table.json).
# Installs its tools itself, pinned, into .tools/lint-venv (git-ignored); needs python3 >= 3.11.
# No AWS account or credentials are needed: nothing here calls AWS.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

VENV=$YL_LINT_VENV
TEMPLATE=infra/template.yaml

yl_ensure_lint_tools

# SAM CLI 1.170.0's `sam validate --lint` was seen to need neither a region nor credentials
# (it runs cfn-lint over the template locally). The region and dummy keys are set anyway so that
# no developer's real profile is ever picked up, and no telemetry is sent.
export SAM_CLI_TELEMETRY=0
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=lint-no-credentials AWS_SECRET_ACCESS_KEY=lint-no-credentials
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "lint: cfn-lint $TEMPLATE"
"$VENV/bin/cfn-lint" "$TEMPLATE"

echo "lint: sam validate --lint"
"$VENV/bin/sam" validate --lint --template "$TEMPLATE" --region us-east-1

echo "lint: consistency"
"$VENV/bin/python" scripts/check_consistency.py
