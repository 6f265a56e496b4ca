#!/bin/sh
# One-shot job (temporalio/admin-tools): the namespace and kaigo's custom search attributes.
# The worker also registers missing search attributes at start; this makes the UI usable before it runs.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
addr="${TEMPORAL_ADDRESS:-temporal:7233}"

until temporal operator cluster health --address "$addr"; do echo "waiting for Temporal"; sleep 2; done
temporal operator namespace describe -n "$ns" --address "$addr" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$ns" --retention 30d --address "$addr"

for attr in CaseType=Keyword CaseStage=Keyword InsuredNumber=Keyword DueDate=Datetime Office=Keyword; do
  name="${attr%%=*}"; type="${attr#*=}"
  temporal operator search-attribute create -n "$ns" --name "$name" --type "$type" --address "$addr" 2>/dev/null \
    || echo "search attribute $name already exists"
done
