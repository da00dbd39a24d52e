#!/usr/bin/env python3
"""Self-test of the cfn-lint rules next to this file (run by scripts/lint.sh, `make lint`).

1. The real template, infra/template.yaml, passes every rule here.
2. Each fixture in fixtures/*.yaml breaks the template and names the rules that must catch it:

     expect: [E9001]                  # exactly these of our rules (E9xxx) report something
     messages: ["AlarmActions"]        # optional: each is part of some reported message
     patch:                            # edits of infra/template.yaml (long-form intrinsics:
       - delete: [Resources, X, ...]   #   {"Ref": ...}, not !Ref), applied in order
       - set: [Resources, X, ...]
         value: ...
     # or, instead of patch, a whole small template:
     template: {...}

3. Every rule of this directory is expected by at least one fixture.

Only our rules run on the fixtures (cfn-lint's own rules already run on the real template, and
a broken fixture may well break them too). The file name starts with "_" so that cfn-lint's
--append-rules, which imports every other *.py file of the directory, does not load it.
Exit status 0 when all hold; 1 with one line per failure.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import yaml
from cfnlint.api import lint
from cfnlint.decode import cfn_yaml
from cfnlint.rules import RulesCollection

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "template.yaml"
FIXTURES = HERE / "fixtures"
RULE_PREFIX = "E9"


def our_rules() -> RulesCollection:
    rules = RulesCollection()
    rules.create_from_directory(str(HERE))
    return rules


def run(template: dict, rules: RulesCollection) -> list:
    return [
        m for m in lint(json.dumps(template), rules=rules, regions=["us-east-1"])
        if m.rule.id.startswith(RULE_PREFIX)
    ]


def apply(template: dict, patch: list) -> dict:
    template = copy.deepcopy(template)
    for op in patch:
        path = op.get("delete", op.get("set"))
        *parents, last = path
        node = template
        for key in parents:
            node = node[key]
        if "delete" in op:
            del node[last]
        else:
            node[last] = op["value"]
    return template


def main() -> int:
    rules = our_rules()
    ids = {r.id for r in rules if r.id.startswith(RULE_PREFIX)}
    failures = []
    real = cfn_yaml.load(str(TEMPLATE))
    for m in run(real, rules):
        failures.append(f"infra/template.yaml: {m.rule.id} {m.message}")

    covered = set()
    fixtures = sorted(FIXTURES.glob("*.yaml"))
    for path in fixtures:
        spec = yaml.safe_load(path.read_text())
        expect = set(spec["expect"])
        covered |= expect
        try:
            template = spec["template"] if "template" in spec else apply(real, spec["patch"])
        except (KeyError, IndexError, TypeError) as err:
            failures.append(f"{path.name}: a patch path is not in infra/template.yaml any more ({err!r})")
            continue
        found = run(template, rules)
        got = {m.rule.id for m in found}
        if got != expect:
            detail = "; ".join(f"{m.rule.id} {m.message}" for m in found) or "nothing reported"
            failures.append(f"{path.name}: expected {sorted(expect)}, got {sorted(got)} ({detail})")
            continue
        for text in spec.get("messages", []):
            if not any(text in m.message for m in found):
                failures.append(f"{path.name}: no message contains {text!r}")

    for rule_id in sorted(ids - covered):
        failures.append(f"{rule_id}: no fixture expects it")
    for line in failures:
        print(f"cfn-lint rules self-test: {line}")
    if failures:
        return 1
    print(f"cfn-lint rules self-test: OK: {', '.join(sorted(ids))} pass infra/template.yaml "
          f"and catch the {len(fixtures)} broken fixtures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
