#!/bin/bash
# Queues the sharded sweep (a job array of SHARDS tasks, 0..SHARDS-1) and the merge after it.
#   CASE=IR-2026-042 INVENTORY=/srv/ir/hosts.ini SHARDS=4 ./submit.sh
set -euo pipefail
: "${CASE:?set CASE}"
: "${INVENTORY:?set INVENTORY}"
SHARDS=${SHARDS:-4}
here=$(cd "$(dirname "$0")" && pwd)
sweep=$(sbatch --parsable --array="0-$((SHARDS - 1))" \
  --export="ALL,CASE=$CASE,INVENTORY=$INVENTORY" "$here/dossier-sweep.sbatch")
sweep=${sweep%%;*}
merge=$(sbatch --parsable --dependency="afterany:$sweep" \
  --export="ALL,CASE=$CASE,SHARDS=$SHARDS" "$here/dossier-merge.sbatch")
echo "sweep job array $sweep (${SHARDS} tasks), merge job $merge"
