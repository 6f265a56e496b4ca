#!/usr/bin/env bash
# 給付制限 (66条) end to end against `make dev` (README: "Walkthrough: 13 months of arrears to 解除").
# A certified 第1号 person with 13 months of arrears → the daily scan → 予告通知書 → an oral 弁明, reviewed and
# not accepted → 支払方法変更通知書 → the collection system posts the payments (a 消込 file, then one payment)
# → 給付制限解除通知書. Uses only curl and python3; every request body is a file in
# docs/restriction_walkthrough/ (${…} filled in here). Watch the case in the Temporal UI
# (http://localhost:8000/temporal/, as supervisor via /ui/login).
#
#   docs/restriction_walkthrough.sh                     # certifies a new resident first (docs/walkthrough.sh)
#   INSURED_NO=0123456789 docs/restriction_walkthrough.sh   # a person already certified
#   API=http://localhost:8105 docs/restriction_walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")"
OUT=../.data/walkthrough  # the notice PDFs land here (not committed)
mkdir -p "$OUT"
API=${API:-http://localhost:8000}

if [ -z "${INSURED_NO:-}" ]; then
  printf '\n== 0. 要介護認定: a new resident certified with docs/walkthrough.sh (the scan looks at certified persons)\n'
  INSURED_NO=$(API="$API" ./walkthrough.sh | tee /dev/stderr | sed -n 's/.*被保険者番号 \([0-9]\{10\}\).*/\1/p')
fi
# Business dates are dates in Japan, whatever this machine's time zone.
export INSURED_NO STAMP=$(date +%s) TODAY=$(TZ=Asia/Tokyo date +%F) TODAY_YYYYMMDD=$(TZ=Asia/Tokyo date +%Y%m%d)
# Four monthly 納期限, the oldest 13 whole months ago (the day before today's date 13 months back).
eval "$(python3 - <<'PY'
from datetime import date, timedelta
today = date.fromisoformat(__import__("os").environ["TODAY"])
def months_back(n):
    index = today.year * 12 + today.month - 1 - n
    return index // 12, index % 12 + 1
periods = {}
for k in range(4):
    year, month = months_back(13 - k)
    due = date(year, month, min(today.day, 28)) - timedelta(days=1)
    fy = due.year if due.month >= 4 else due.year - 1
    periods[fy] = periods.get(fy, 0) + 1
    print(f"export DUE_{k + 1}={due} FY_{k + 1}={fy} PERIOD_{k + 1}={periods[fy]}")
PY
)"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
show() { python3 -m json.tool --no-ensure-ascii; }
payload() {  # a request body from docs/restriction_walkthrough/, its ${…} filled in
  python3 -c 'import os, string, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
sys.stdout.write(string.Template(text).substitute(os.environ))' "restriction_walkthrough/$1"
}
token() {
  curl -sf -X POST "$API/auth/token" -d "username=$1&password=$1-demo-2026" | field '["access_token"]'
}
call() { request application/json "$@"; }
request() {  # content-type who curl-args…: prints the problem+json and stops when the API refuses
  local type=$1 who=$2; shift 2
  local body status
  body=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $who" -H "Content-Type: $type" "$@")
  status=${body##*$'\n'}; body=${body%$'\n'*}
  if [ "$status" -ge 400 ]; then echo "$body" | show >&2; echo "HTTP $status: $*" >&2; exit 1; fi
  printf '%s' "$body"
}
step() { printf '\n== %s\n' "$*"; }
task_of() {  # who case_id kind
  for _ in $(seq 100); do
    local found
    found=$(call "$1" -X POST "$API/tasks/search" -d "{\"case_id\": \"$2\", \"kind\": \"$3\"}")
    if [ "$(echo "$found" | field '["total"]')" != "0" ]; then echo "$found" | field '["items"][0]["id"]'; return; fi
    sleep 0.3
  done
  echo "no $3 task appeared" >&2; exit 1
}
claim_and_complete() {  # who task_id payload-file
  local version
  version=$(call "$1" "$API/tasks/$2" | field '["version"]')
  call "$1" -X POST "$API/tasks/$2/claim" -H "If-Match: \"$version\"" >/dev/null
  call "$1" -X POST "$API/tasks/$2/completion" -d "{\"payload\": $(payload "$3")}" >/dev/null
}
until_case() {  # who case_id python-condition-on-case
  for _ in $(seq 100); do
    if call "$1" "$API/cases/$2" | python3 -c "import json,sys; c=json.load(sys.stdin)['case']; sys.exit(0 if $3 else 1)"; then
      return
    fi
    sleep 0.3
  done
  echo "the case did not reach: $3" >&2; exit 1
}
notices() {  # who case_id: list them and save each PDF once
  call "$1" "$API/notices?case_id=$2" | python3 -c '
import json, sys
for n in json.load(sys.stdin)["items"]:
    print("%s\t%s\t%s" % (n["id"], n["kind"], n["document_no"]))' | while IFS=$'\t' read -r id kind number; do
    [ -f "$OUT/$kind-$id.pdf" ] || curl -sf -o "$OUT/$kind-$id.pdf" -H "Authorization: Bearer $1" "$API/notices/$id/pdf"
    echo "  $number  $kind  → .data/walkthrough/$kind-$id.pdf"
  done
}

RESTRICTION=$(token restriction); COLLECTION=$(token collection); SUPERVISOR=$(token supervisor)

step "1. 調定を登録 (給付制限担当): assessments.json — 4期分、最も古い納期限は ${DUE_1}"
call "$RESTRICTION" -X POST "$API/premium-assessments" -d "$(payload assessments.json)" | show
call "$RESTRICTION" "$API/insured/$INSURED_NO/premiums" | python3 -c '
import json, sys
l = json.load(sys.stdin)
print("滞納 %d円, 最も古い納期限 %s から %dか月" % (l["arrears_total"], l["oldest_unpaid_due"], l["months_in_arrears"]))'

step "2. 日次の滞納確認を今すぐ実行 (Schedule restriction-daily-scan と同じ処理): scan.json"
SCAN=$(call "$RESTRICTION" -X POST "$API/restriction-scans" -d "$(payload scan.json)")
echo "$SCAN" | show
CASE=$(echo "$SCAN" | python3 -c 'import json,sys; print((json.load(sys.stdin).get("opened") or [""])[0])')
if [ -z "$CASE" ]; then echo "the scan opened no case (is $INSURED_NO certified and not already restricted?)" >&2; exit 1; fi
echo "ケースID (= ワークフローID) $CASE — Temporal UI: $API/temporal/namespaces/default/workflows/$CASE"
EXPLANATION=$(task_of "$RESTRICTION" "$CASE" restriction_explanation)  # opened once the 予告 is issued
notices "$RESTRICTION" "$CASE"

step "3. 弁明: 窓口で口頭の弁明を記録し (explanation.json)、審査する (explanation_review.json)"
claim_and_complete "$RESTRICTION" "$EXPLANATION" explanation.json
claim_and_complete "$RESTRICTION" "$(task_of "$RESTRICTION" "$CASE" restriction_explanation_review)" explanation_review.json
until_case "$RESTRICTION" "$CASE" 'c["stage"] == "restricted"'
call "$RESTRICTION" "$API/cases/$CASE" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("段階: %s — %s (次の期限 %s)" % (c["stage_label"], c["case"]["details"], c["case"]["due_on"]))
print("適用開始日 %s, 被保険者証の提出期限 %s" % (c["record"]["payment_method_change_from"], c["record"]["certificate_submit_by"]))'
notices "$RESTRICTION" "$CASE"

step "4. 収納システム (collection) が消込ファイルで3期分を納付: payments.csv — まだ1期分の滞納が残る"
payload payments.csv > "$OUT/kesikomi-$STAMP.csv"
request text/csv "$COLLECTION" --data-binary "@$OUT/kesikomi-$STAMP.csv" "$API/premium-payments/import" | show
sleep 1
call "$RESTRICTION" "$API/cases/$CASE" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("段階: %s, 滞納 %d円" % (c["stage_label"], c["record"]["arrears_total"]))'

step "5. 最後の1期分を API で納付 (payment.json) → 滞納0円で 解除"
call "$COLLECTION" -X POST "$API/premium-payments" -d "$(payload payment.json)" | show
until_case "$RESTRICTION" "$CASE" 'c["state"] == "closed"'
call "$RESTRICTION" "$API/cases/$CASE" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("段階: %s, 結果: %s" % (c["stage_label"], c["case"]["outcome"]))
for e in c["timeline"]:
    print("  %s  %-12s %s" % (e["at"][:19], e["actor"], e["step"]))'
notices "$RESTRICTION" "$CASE"
call "$SUPERVISOR" "$API/insured/$INSURED_NO/restrictions" | show
