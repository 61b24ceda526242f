#!/usr/bin/env python3
"""Validates a STIX 2.1 bundle file with the reference libraries (tests/tests/e2e/export.rs).

Usage: validate.py BUNDLE.json

- `stix2.parse(text, allow_custom=False)`: every object must be a STIX 2.1 object the library
  knows, with its required properties, valid identifiers, timestamps, vocabularies and
  references, and no custom property;
- `stix2patterns.validator.run_validator` on every indicator's pattern: no error.

Prints one JSON object: {"objects": N, "types": {type: count}, "patterns": [...]} on success;
exits 1 with the errors on stderr otherwise.
"""
import json
import sys

import stix2
from stix2patterns.validator import run_validator


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    bundle = stix2.parse(text, allow_custom=False)
    if bundle.type != "bundle":
        sys.exit(f"not a bundle: {bundle.type}")
    errors = []
    types = {}
    patterns = []
    for o in bundle.objects:
        if o.spec_version != "2.1":
            errors.append(f"{o.id}: spec_version {o.spec_version}")
        types[o.type] = types.get(o.type, 0) + 1
        if o.type == "indicator":
            patterns.append(o.pattern)
            for e in run_validator(o.pattern, stix_version="2.1"):
                errors.append(f"{o.id}: {o.pattern}: {e}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"objects": len(bundle.objects), "types": types, "patterns": patterns}))


if __name__ == "__main__":
    main()
