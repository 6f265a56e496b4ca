#!/usr/bin/env bash
# One 新規 要介護認定 case from application to 結果通知書 PDF, against `make dev` (README: "Walkthrough").
# Uses only curl and python3 (for reading JSON). Each step prints what it did; open the Temporal UI
# (http://localhost:8000/temporal/, as supervisor via /ui/login) beside it to watch the case move.
set -euo pipefail
cd "$(dirname "$0")"
OUT=../.data/walkthrough  # the exported CSVs and the notice PDF land here (not committed)
mkdir -p "$OUT"

API=${API:-http://localhost:8000}
TODAY=$(date +%F)
STAMP=$(date +%s)

field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token() {
  curl -sf -X POST "$API/auth/token" -d "username=$1&password=$1-demo-2026" | field '["access_token"]'
}
call() { local who=$1; shift; curl -sf -H "Authorization: Bearer $who" -H 'Content-Type: application/json' "$@"; }
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
complete() {  # who task_id payload-json
  call "$1" -X POST "$API/tasks/$2/completion" -d "{\"payload\": $3}" >/dev/null
}
claim_and_complete() {  # who task_id payload-json
  call "$1" -X POST "$API/tasks/$2/claim" -H "If-Match: \"$(version_of "$1" "$2")\"" >/dev/null
  complete "$1" "$2" "$3"
}

INTAKE=$(token intake); SUPERVISOR=$(token supervisor); SURVEYOR=$(token surveyor)
BOARD=$(token board); BOARD2=$(token board2); BOARD3=$(token board3)

step "0. 宛名と被保険者を登録 (認定係)"
ATENA="8$STAMP"; INSURED="9${STAMP: -9}"
call "$INTAKE" -X POST "$API/persons" -d "{\"atena_no\": \"$ATENA\", \"name_kanji\": \"髙﨑 𠮷子\",
  \"name_kana\": \"ﾀｶｻｷ ﾖｼｺ\", \"birth_date\": \"1941-04-03\", \"sex\": \"2\", \"postal_code\": \"070-0031\",
  \"address\": \"北海道旭川市一条通8丁目\"}" >/dev/null
call "$INTAKE" -X POST "$API/insured" -d "{\"insured_no\": \"$INSURED\", \"atena_no\": \"$ATENA\", \"category\": \"1\",
  \"acquired_on\": \"2006-04-02\", \"acquisition_reason\": \"age_65\"}" >/dev/null
echo "宛名番号 $ATENA / 被保険者番号 $INSURED"

step "1. 認定申請を受け付ける"
APP=$(call "$INTAKE" -X POST "$API/certification-applications" -H "Idempotency-Key: walk-$STAMP" \
  -d "{\"insured_no\": \"$INSURED\", \"kind\": \"new\", \"applied_on\": \"$TODAY\", \"applicant_kind\": \"self\"}")
APP_ID=$(echo "$APP" | field '["id"]'); CASE=$(echo "$APP" | field '["workflow_id"]')
echo "case $CASE, 決定期限 $(echo "$APP" | field '["decision_deadline"]')"

step "2. 認定調査: 監督者が調査員に割り当て、調査員が結果を入力"
SURVEY=$(task_of "$SUPERVISOR" "$CASE" survey)
call "$SUPERVISOR" -X POST "$API/tasks/$SURVEY/assignment" -H "If-Match: \"$(version_of "$SUPERVISOR" "$SURVEY")\"" \
  -d '{"assignee": "surveyor"}' >/dev/null
complete "$SURVEYOR" "$SURVEY" "$(cat walkthrough/survey.json)"
echo "survey recorded by surveyor"

step "3. 主治医意見書: 依頼して、受領する"
claim_and_complete "$INTAKE" "$(task_of "$INTAKE" "$CASE" opinion_request)" \
  "{\"physician_name\": \"旭川 太郎\", \"institution_name\": \"旭川中央病院\", \"requested_on\": \"$TODAY\"}"
claim_and_complete "$INTAKE" "$(task_of "$INTAKE" "$CASE" opinion_receipt)" "$(cat walkthrough/opinion.json)"
echo "opinion requested and received"

step "4. 一次判定: 申請情報を出力し、結果を取り込む"
task_of "$INTAKE" "$CASE" primary_result >/dev/null
call "$INTAKE" "$API/certification-applications/$APP_ID/alwaysj-export" > "$OUT/shinsei-$APP_ID.csv"
echo "exported .data/walkthrough/shinsei-$APP_ID.csv ($(wc -l < "$OUT/shinsei-$APP_ID.csv") lines)"
D=$(date +%Y%m%d)
printf '%s\r\n%s\r\n' \
  "被保険者番号,認定申請日,一次判定日,一次判定結果,基準時間,基準時間_食事,基準時間_排泄,基準時間_移動,基準時間_清潔保持,基準時間_間接生活介助,基準時間_BPSD関連行為,基準時間_機能訓練関連行為,基準時間_医療関連行為,中間評価項目得点_第1群,中間評価項目得点_第2群,中間評価項目得点_第3群,中間評価項目得点_第4群,中間評価項目得点_第5群,状態の安定性,認知症自立度II以上の蓋然性" \
  "$INSURED,$D,$D,22,55.0,20.0,10.0,8.0,6.0,5.0,3.0,2.0,1.0,80.0,82.5,90.0,95.0,70.0,," > "$OUT/ichiji-$APP_ID.csv"
curl -sf -H "Authorization: Bearer $INTAKE" -H 'Content-Type: text/csv' --data-binary "@$OUT/ichiji-$APP_ID.csv" \
  "$API/certification-applications/$APP_ID/primary-result" >/dev/null
echo "imported 一次判定 要介護2 (基準時間 55.0分)"

step "5. 介護認定審査会: 委員が判定し、合議体長が締めくくる"
for who in BOARD BOARD2 BOARD3; do
  complete "${!who}" "$(task_of "${!who}" "$CASE" board_vote ', "assignee": "me"')" '{"level": "要介護2", "validity_months": 12}'
done
complete "$BOARD" "$(task_of "$BOARD" "$CASE" board_close ', "assignee": "me"')" '{"board_opinion": "特になし"}'
echo "board decided"

step "6. 決定: 結果通知書 (PDF)"
for _ in $(seq 100); do
  STAGE=$(call "$INTAKE" "$API/cases/$CASE" | field '["stage"]'); [ "$STAGE" = decided ] && break; sleep 0.3
done
call "$INTAKE" "$API/cases/$CASE" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["timeline"]:
    print("  %s  %-12s %s" % (e["at"][:19], e["actor"], e["step"]))'
NOTICE=$(call "$INTAKE" "$API/notices?case_id=$CASE" | field '["items"][0]["id"]')
call "$INTAKE" "$API/notices/$NOTICE/pdf" > "$OUT/result-$APP_ID.pdf"
echo "saved .data/walkthrough/result-$APP_ID.pdf"
