"""Roles and named permissions per function (事務単位の権限).

Every route declares one permission (api/auth.py `require`); roles are bundles of permissions. The
README's route table is generated from the routes and checked by tests/api/test_route_permissions.py.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    REGISTRY_READ = "registry:read"  # 宛名・被保険者の参照
    REGISTRY_WRITE = "registry:write"  # 宛名・被保険者の登録・異動
    MYNUMBER_READ = "mynumber:read"  # 個人番号の表示・検索 (個人番号利用事務)
    MYNUMBER_WRITE = "mynumber:write"  # 個人番号の入力・紐付け
    CASE_READ = "case:read"  # ケース (手続) の参照
    TASK_WORK = "task:work"  # 自分のタスクの取得・処理
    TASK_ASSIGN = "task:assign"  # 他の職員へのタスク割当
    CERTIFICATION_INTAKE = "certification:intake"  # 認定申請の受付・取下げ
    CERTIFICATION_IMPORT = "certification:import"  # 前のシステムの認定の一括取り込み (移行)
    SURVEY_RECORD = "survey:record"  # 認定調査結果の入力
    OPINION_RECORD = "opinion:record"  # 主治医意見書の依頼・受領
    BOARD_DECIDE = "board:decide"  # 介護認定審査会の判定
    BOARD_MANAGE = "board:manage"  # 審査会事務局: 合議体・開催日・割当
    RESTRICTION_MANAGE = "restriction:manage"  # 給付制限 (調定の登録を含む)
    PREMIUM_PAYMENT = "premium:payment"  # 保険料の納付の消込 (収納システムの連携用アカウント)
    NOTICE_ISSUE = "notice:issue"  # 通知書の発行
    NOTICE_READ = "notice:read"  # 通知書の参照・再印刷
    NOTICE_EXPORT = "notice:export"  # 印刷委託用の一括出力
    DISCLOSURE_ISSUE = "disclosure:issue"  # 開示請求への回答作成
    AUDIT_READ = "audit:read"  # 操作記録の点検
    DASHBOARD_READ = "dashboard:read"  # 監督者のダッシュボード (件数・日数・変更率; 個人情報なし)
    CODEC_DECODE = "codec:decode"  # Temporal UI での暗号化ペイロードの復号
    ADMIN = "admin"  # 職員アカウント・権限の管理


class Role(StrEnum):
    INTAKE = "intake"
    SURVEYOR = "surveyor"
    BOARD_MEMBER = "board_member"
    RESTRICTION = "restriction"
    COLLECTION = "collection"  # 収納システム: a machine identity that only posts payments
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.INTAKE: "認定係",
    Role.SURVEYOR: "認定調査員",
    Role.BOARD_MEMBER: "審査会委員",
    Role.RESTRICTION: "給付制限担当",
    Role.COLLECTION: "収納システム (連携)",
    Role.SUPERVISOR: "監督者",
    Role.ADMIN: "管理者",
}

P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INTAKE: frozenset(
        {
            P.REGISTRY_READ,
            P.REGISTRY_WRITE,
            P.MYNUMBER_READ,
            P.MYNUMBER_WRITE,
            P.CASE_READ,
            P.TASK_WORK,
            P.CERTIFICATION_INTAKE,
            P.OPINION_RECORD,
            P.BOARD_MANAGE,
            P.NOTICE_ISSUE,
            P.NOTICE_READ,
        }
    ),
    # Surveyors (city staff or contractors, 28条5項) see only the cases assigned to them.
    Role.SURVEYOR: frozenset({P.REGISTRY_READ, P.CASE_READ, P.TASK_WORK, P.SURVEY_RECORD}),
    # Board members judge from anonymised case material: no registry access.
    Role.BOARD_MEMBER: frozenset({P.TASK_WORK, P.BOARD_DECIDE}),
    # 給付制限担当 also records a payment made at the city's counter (the console's 窓口での納付).
    Role.RESTRICTION: frozenset(
        {
            P.REGISTRY_READ,
            P.CASE_READ,
            P.TASK_WORK,
            P.RESTRICTION_MANAGE,
            P.NOTICE_ISSUE,
            P.NOTICE_READ,
            P.PREMIUM_PAYMENT,
        }
    ),
    # The collection system's service account: payments (JSON or a 消込 file), nothing else.
    Role.COLLECTION: frozenset({P.PREMIUM_PAYMENT}),
    Role.SUPERVISOR: frozenset(
        {
            P.REGISTRY_READ,
            P.MYNUMBER_READ,
            P.CASE_READ,
            P.TASK_WORK,
            P.TASK_ASSIGN,
            P.BOARD_MANAGE,
            P.NOTICE_READ,
            P.NOTICE_EXPORT,
            P.CERTIFICATION_IMPORT,
            P.DISCLOSURE_ISSUE,
            P.AUDIT_READ,
            P.CODEC_DECODE,
            P.DASHBOARD_READ,
        }
    ),
    # Administrators manage accounts and review the audit trail; they do not read case files.
    Role.ADMIN: frozenset({P.ADMIN, P.AUDIT_READ, P.CODEC_DECODE}),
}

# Roles whose access to a person's data is limited to the cases assigned to them.
SCOPED_ROLES: frozenset[Role] = frozenset({Role.SURVEYOR})


def permissions_for(roles: list[Role] | frozenset[Role]) -> frozenset[Permission]:
    return frozenset().union(*(ROLE_PERMISSIONS[role] for role in roles))
