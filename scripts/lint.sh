#!/usr/bin/env bash
# `make lint` for the infrastructure: cfn-lint, `sam validate --lint`, and the consistency check
# (routes == functions/ == Cargo.toml watch router == README == docs/openapi.yaml; table ==
# infra/table.json).
# Installs its tools itself, pinned, into .tools/lint-venv (git-ignored); needs python3 >= 3.11.
# No AWS account or credentials are needed: nothing here calls AWS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.tools/lint-venv
REQUIREMENTS=infra/requirements-lint.txt
STAMP=$VENV/.requirements.sha256
TEMPLATE=infra/template.yaml

if [ ! -x "$VENV/bin/python" ]; then
  echo "lint: creating $VENV"
  python3 -m venv "$VENV"
fi
# Reinstall only when the pinned requirements changed since the last install.
if ! sha256sum --check --status "$STAMP" 2>/dev/null; then
  echo "lint: installing $REQUIREMENTS into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  sha256sum "$REQUIREMENTS" > "$STAMP"
fi

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
