#!/usr/bin/env bash
# One 新規 要介護認定 case from application to 結果通知書 PDF, against `make dev` (README: "Walkthrough").
# Uses only curl and python3. Every request body is a file in docs/walkthrough/ (the same bodies the API
# docs at /docs show as examples); ${ATENA_NO}, ${INSURED_NO}, ${TODAY} and ${TODAY_YYYYMMDD} in them are
# filled in here. Open the Temporal UI (http://localhost:8000/temporal/, as supervisor via /ui/login)
# beside it to watch the case move.
#
#   docs/walkthrough.sh                            # the API of `make dev` on localhost:8000
#   API=http://localhost:8102 docs/walkthrough.sh  # another API (e.g. `API_PORT=8102 make dev`)
set -euo pipefail
cd "$(dirname "$0")"
OUT=../.data/walkthrough  # the exported CSVs and the notice PDF land here (not committed)
mkdir -p "$OUT"

API=${API:-http://localhost:8000}
STAMP=$(date +%s)
# Business dates are dates in Japan, whatever this machine's time zone.
jst() { TZ=Asia/Tokyo date "$@"; }
export TODAY=$(jst +%F) TODAY_YYYYMMDD=$(jst +%Y%m%d)
export ATENA_NO="8$STAMP" INSURED_NO="9${STAMP: -9}"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
show() { python3 -m json.tool --no-ensure-ascii; }  # Japanese as Japanese, not \u9ad9…
payload() {  # a request body from docs/walkthrough/, its ${…} filled in (a missing one stops the script)
  python3 -c 'import os, string, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
sys.stdout.write(string.Template(text).substitute(os.environ))' "walkthrough/$1"
}
token() {
  curl -sf -X POST "$API/auth/token" -d "username=$1&password=$1-demo-2026" | field '["access_token"]'
}
# curl that prints the problem+json (readably) and stops when the API refuses a step.
call() { request application/json "$@"; }
request() {  # content-type who curl-args…
  local type=$1 who=$2; shift 2
  local body status
  body=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $who" -H "Content-Type: $type" "$@")
  status=${body##*$'\n'}; body=${body%$'\n'*}
  if [ "$status" -ge 400 ]; then echo "$body" | show >&2; echo "HTTP $status: $*" >&2; exit 1; fi
  printf '%s' "$body"
}
download() {  # who url file: binary bodies (CSV, PDF) go straight to the file
  local status
  status=$(curl -s -o "$3" -w '%{http_code}' -H "Authorization: Bearer $1" "$2")
  if [ "$status" -ge 400 ]; then show < "$3" >&2; echo "HTTP $status: $2" >&2; exit 1; fi
}
step() { printf '\n== %s\n' "$*"; }

# Wait until the workflow has opened a task of this kind (it opens tasks through activities).
task_of() {  # who case_id kind [extra-filter-json]
  local who=$1 case=$2 kind=$3 extra=${4:-}
  for _ in $(seq 100); do
    local found
    found=$(call "$who" -X POST "$API/tasks/search" -d "{\"case_id\": \"$case\", \"kind\": \"$kind\"$extra}")
    if [ "$(echo "$found" | field '["total"]')" != "0" ]; then echo "$found" | field '["items"][0]["id"]'; return; fi
    sleep 0.3
  done
  echo "no $kind task appeared" >&2; exit 1
}
version_of() { call "$1" "$API/tasks/$2" | field '["version"]'; }
complete() {  # who task_id payload-file
  call "$1" -X POST "$API/tasks/$2/completion" -d "{\"payload\": $(payload "$3")}" >/dev/null
}
claim_and_complete() {  # who task_id payload-file
  call "$1" -X POST "$API/tasks/$2/claim" -H "If-Match: \"$(version_of "$1" "$2")\"" >/dev/null
  complete "$1" "$2" "$3"
}

INTAKE=$(token intake); SUPERVISOR=$(token supervisor); SURVEYOR=$(token surveyor)
BOARD=$(token board); BOARD2=$(token board2); BOARD3=$(token board3)

step "0. 宛名と被保険者を登録 (認定係): person.json, insured.json"
call "$INTAKE" -X POST "$API/persons" -d "$(payload person.json)" | show
call "$INTAKE" -X POST "$API/insured" -d "$(payload insured.json)" >/dev/null
echo "宛名番号 $ATENA_NO / 被保険者番号 $INSURED_NO"

step "1. 認定申請を受け付ける: application.json"
APP=$(call "$INTAKE" -X POST "$API/certification-applications" -H "Idempotency-Key: walk-$STAMP" \
  -d "$(payload application.json)")
APP_ID=$(echo "$APP" | field '["id"]'); CASE=$(echo "$APP" | field '["workflow_id"]')
echo "申請ID $APP_ID — ケースID (= ワークフローID) $CASE, 決定期限 $(echo "$APP" | field '["decision_deadline"]')"

step "2. 認定調査: 監督者が調査員に割り当て (assignment.json)、調査員が結果を入力 (survey.json)"
SURVEY=$(task_of "$SUPERVISOR" "$CASE" survey)
call "$SUPERVISOR" -X POST "$API/tasks/$SURVEY/assignment" -H "If-Match: \"$(version_of "$SUPERVISOR" "$SURVEY")\"" \
  -d "$(payload assignment.json)" >/dev/null
complete "$SURVEYOR" "$SURVEY" survey.json
echo "survey recorded by surveyor"

step "3. 主治医意見書: 依頼して (opinion_request.json)、受領する (opinion.json)"
claim_and_complete "$INTAKE" "$(task_of "$INTAKE" "$CASE" opinion_request)" opinion_request.json
claim_and_complete "$INTAKE" "$(task_of "$INTAKE" "$CASE" opinion_receipt)" opinion.json
echo "opinion requested and received"

step "4. 一次判定: 申請情報を出力し、結果 (primary_result.csv) を取り込む"
task_of "$INTAKE" "$CASE" primary_result >/dev/null
download "$INTAKE" "$API/certification-applications/$APP_ID/alwaysj-export" "$OUT/shinsei-$APP_ID.csv"
echo "exported .data/walkthrough/shinsei-$APP_ID.csv ($(wc -l < "$OUT/shinsei-$APP_ID.csv") lines)"
payload primary_result.csv > "$OUT/ichiji-$APP_ID.csv"
request text/csv "$INTAKE" --data-binary "@$OUT/ichiji-$APP_ID.csv" \
  "$API/certification-applications/$APP_ID/primary-result" >/dev/null
echo "imported 一次判定 要介護2 (基準時間 55.0分)"

step "5. 介護認定審査会: 委員が判定し (board_vote.json)、合議体長が締めくくる (board_close.json)"
for who in BOARD BOARD2 BOARD3; do
  complete "${!who}" "$(task_of "${!who}" "$CASE" board_vote ', "assignee": "me"')" board_vote.json
done
complete "$BOARD" "$(task_of "$BOARD" "$CASE" board_close ', "assignee": "me"')" board_close.json
echo "board decided"

step "6. 決定: 結果通知書 (PDF)"
for _ in $(seq 100); do
  STAGE=$(call "$INTAKE" "$API/cases/$CASE" | field '["case"]["stage"]'); [ "$STAGE" = decided ] && break; sleep 0.3
done
call "$INTAKE" "$API/cases/$CASE" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["timeline"]:
    print("  %s  %-12s %s" % (e["at"][:19], e["actor"], e["step"]))'
NOTICE=$(call "$INTAKE" "$API/notices?case_id=$CASE" | field '["items"][0]["id"]')
call "$INTAKE" "$API/notices/$NOTICE" | show
download "$INTAKE" "$API/notices/$NOTICE/pdf" "$OUT/result-$APP_ID.pdf"
echo "saved .data/walkthrough/result-$APP_ID.pdf"
