#!/usr/bin/env bash
# Checks the examples of dist/ for running dossier on an existing engine, offline (only the
# Python package index is needed, once): the Kubernetes manifests against the Kubernetes JSON
# schema (kubernetes-validate, which bundles the schemas: no cluster, no download), the
# Ansible playbook with `ansible-playbook --syntax-check`, and the Slurm scripts with
# `bash -n`. The tools go into a virtual environment (Debian's Python is externally managed),
# kept in target/ for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${DOSSIER_EXAMPLES_VENV:-target/examples-venv}
# Pinned: a new schema or parser release must not change what passes without a commit.
tools=('ansible-core==2.19.14' 'kubernetes-validate==1.37.0')
# The Kubernetes release the manifests are checked against (completionMode Indexed and
# backoffLimitPerIndex need 1.29 or later).
k8s=1.30.0

if ! "$venv/bin/python3" -c 'import ansible, kubernetes_validate' >/dev/null 2>&1; then
  if ! /usr/bin/python3 -m venv "$venv"; then
    echo "check-examples: python3 -m venv failed: install python3-venv" >&2
    exit 1
  fi
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
fi

echo "check-examples: kubernetes manifests (schema of Kubernetes $k8s, strict)"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "$k8s" dist/k8s/*.yaml

echo "check-examples: ansible playbook"
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  "$venv/bin/ansible-playbook" --syntax-check -i localhost, dist/ansible/collect.yml

echo "check-examples: slurm scripts"
for f in dist/slurm/*.sbatch dist/slurm/*.sh; do
  bash -n "$f"
  # The array must count from 0, as dossier's --shard K does.
  case "$f" in
    *dossier-sweep.sbatch) grep -q '^#SBATCH --array=0-' "$f" ;;
  esac
done
echo "check-examples: ok"
