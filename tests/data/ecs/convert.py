#!/usr/bin/env python3
"""Converts ECS's generated/ecs/ecs_flat.yml into ecs-fields.json (what dossier's ECS export
tests check documents against). Usage, from a clone of https://github.com/elastic/ecs:

    git show v9.4.0:generated/ecs/ecs_flat.yml > /tmp/ecs_flat.yml
    python3 convert.py /tmp/ecs_flat.yml 9.4.0 $(git rev-parse v9.4.0^{commit}) > ecs-fields.json

Needs PyYAML. Keeps per field only what the check uses: type, whether the field is an array
(`normalize: [array]`), allowed values (with each event.category's expected event types) and
expected values.
"""
import json
import sys

import yaml


def main():
    src, version, commit = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(src, encoding="utf-8") as f:
        flat = yaml.safe_load(f)
    fields = {}
    for name, d in sorted(flat.items()):
        out = {"type": d["type"]}
        if "array" in (d.get("normalize") or []):
            out["array"] = True
        if d.get("allowed_values"):
            out["allowed_values"] = {
                a["name"]: sorted(a.get("expected_event_types") or []) for a in d["allowed_values"]
            }
        if d.get("expected_values"):
            out["expected_values"] = list(d["expected_values"])
        fields[name] = out
    doc = {
        "source": "https://github.com/elastic/ecs generated/ecs/ecs_flat.yml",
        "ecs_version": version,
        "commit": commit,
        "license": "Apache-2.0 (Copyright Elasticsearch B.V.; see LICENSE-ECS.txt)",
        "fields": fields,
    }
    json.dump(doc, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
