"""The words people read for the vocabulary's members (rules/vocabulary.py).

One table per enum, keyed by its members, each giving the Chinese and the
English word side by side. ``monitor.pages.i18n`` files them into its
catalogue as ``<prefix>.<value>`` (``step.reminder``, ``kind.breached``), which
is how templates ask for them: ``t("step." ~ n.step)``. A new member without
words fails tests/monitor/test_terms.py instead of showing its key on a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from rules.vocabulary import (
    Channel,
    ContactRole,
    Decision,
    IncidentState,
    Language,
    MatterKind,
    NotificationState,
    ObligationState,
    Recipient,
    Role,
    Severity,
    SignInOutcome,
    StepKind,
    TimelineKind,
    WaiverState,
)

Words = Mapping[StrEnum, tuple[str, str]]  # member -> (zh, en)

ROLE: Words = {
    Role.DUTY_OFFICER: ("值班员", "duty officer"), Role.DEPARTMENT_HEAD: ("单位负责人", "department head"),
    Role.SUPERVISOR: ("督查", "supervisor"), Role.ADMIN: ("管理员", "admin"),
}
GROUP: Words = {
    Recipient.HEAD: ("主要负责人", "head"), Recipient.DEPUTIES: ("分管负责人", "deputies"),
    Recipient.SUPERVISORS: ("督查单位", "supervisory office"),
}
CONTACT_ROLE: Words = {ContactRole.HEAD: ("主要负责人", "head"), ContactRole.DEPUTY: ("分管负责人", "deputy"),
                       ContactRole.STANDIN: ("代理人", "stand-in")}
SEVERITY: Words = {
    Severity.I: ("特别重大（I 级）", "Especially major (I)"), Severity.II: ("重大（II 级）", "Major (II)"),
    Severity.III: ("较大（III 级）", "Large (III)"), Severity.IV: ("一般（IV 级）", "General (IV)"),
}
OBLIGATION_STATE: Words = {
    ObligationState.PENDING: ("进行中", "pending"), ObligationState.MET: ("按时完成", "met"),
    ObligationState.MET_LATE: ("逾期完成", "met late"), ObligationState.BREACHED: ("已超时", "breached"),
    ObligationState.WAIVED: ("已免除", "waived"),
}
INCIDENT_STATE: Words = {IncidentState.OPEN: ("处置中", "open"), IncidentState.CLOSED: ("已结束", "closed")}
WAIVER_STATE: Words = {
    WaiverState.REQUESTED: ("已申请免除，待督办决定", "waiver requested, awaiting a supervisor"),
    WaiverState.GRANTED: ("免除已批准", "waiver granted"), WaiverState.REFUSED: ("免除已驳回", "waiver refused"),
}
NOTIFICATION_STATE: Words = {
    NotificationState.PENDING: ("待发送", "pending"), NotificationState.SENDING: ("发送中", "sending"),
    NotificationState.SENT: ("已发送", "sent"), NotificationState.DELIVERED: ("已送达", "delivered"),
    NotificationState.FAILED: ("发送失败", "failed"),
    NotificationState.SKIPPED: ("已跳过（不再适用）", "skipped (no longer applies)"),
}
STEP_KIND: Words = {
    StepKind.REGISTERED: ("事件登记", "registered"), StepKind.REMINDER: ("提醒", "reminder"),
    StepKind.WARNING: ("预警", "warning"), StepKind.FINAL_WARNING: ("最后预警", "final warning"),
    StepKind.BREACHED: ("已超时", "breached"), StepKind.OVERDUE: ("超时催办", "overdue"),
    StepKind.WAIVER_REQUESTED: ("免除申请", "waiver requested"),
}
CHANNEL: Words = {Channel.SMS: ("短信", "SMS"), Channel.EMAIL: ("邮件", "email"),
                  Channel.VOICE: ("语音电话", "voice call")}
TIMELINE_KIND: Words = {
    TimelineKind.REGISTERED: ("登记事件", "registered"), TimelineKind.CORRECTED: ("更正", "corrected"),
    TimelineKind.MILESTONE: ("记录完成", "milestone"), TimelineKind.CLOSED: ("结束事件", "closed"),
    TimelineKind.STEPS_PLANNED: ("排定提醒", "steps planned"), TimelineKind.STEP_FIRED: ("发出提醒", "step sent"),
    TimelineKind.STEP_SKIPPED: ("跳过提醒", "step skipped"),
    TimelineKind.STEP_UNDELIVERABLE: ("提醒无人可送达", "nobody could be reached"),
    TimelineKind.NOTIFICATION_SENT: ("提醒已发送", "message sent"),
    TimelineKind.NOTIFICATION_DELIVERED: ("提醒已送达", "message delivered"),
    TimelineKind.NOTIFICATION_FAILED: ("提醒发送失败", "message failed"),
    TimelineKind.NOTIFICATION_RETRY: ("提醒重试", "message retried"),
    TimelineKind.NOTIFICATION_SKIPPED: ("提醒不再适用，未发送", "message skipped (no longer applies)"),
    TimelineKind.ACKNOWLEDGED: ("签收", "acknowledged"), TimelineKind.BREACHED: ("超时", "breached"),
    TimelineKind.BREACH_WITHDRAWN: ("撤销超时", "breach withdrawn"), TimelineKind.REGRADED: ("重新评定", "regraded"),
    TimelineKind.CASE_DECIDED: ("问责决定", "case decided"),
    TimelineKind.WAIVER_REQUESTED: ("申请免除", "waiver requested"),
    TimelineKind.WAIVER_GRANTED: ("批准免除", "waiver granted"),
    TimelineKind.WAIVER_REFUSED: ("驳回免除", "waiver refused"),
    TimelineKind.WAIVER_LAPSED: ("免除申请失效", "waiver request lapsed"),
    TimelineKind.OBLIGATIONS_CANCELLED: ("取消时限", "obligations cancelled"),
    TimelineKind.MILESTONE_WITHDRAWN: ("撤回完成记录", "milestone withdrawn"),
    TimelineKind.EXTENDED: ("延长时限", "deadline extended"),
    TimelineKind.SERIES_ENDED: ("持续发布随事件结束而终止", "keep-publishing series ended with the incident"),
}
DECISION: Words = {
    Decision.PENDING: ("待处理", "pending"), Decision.NOTICE: ("通报批评", "circulated criticism"),
    Decision.SUMMONS: ("约谈", "summons interview"), Decision.WAIVED: ("免予问责", "waived"),
}
# The kinds of matter (SPEC §13.1), and the duty each one puts on the office,
# in the words a duty officer uses for it.
MATTER: Words = {
    MatterKind.EMERGENCY: ("突发事件", "emergency"), MatterKind.PUBLIC_OPINION: ("政务舆情", "public opinion"),
    MatterKind.DISCLOSURE_REQUEST: ("依申请公开", "disclosure request"),
}
DUTY: Words = {
    MatterKind.EMERGENCY: ("发布权威信息", "publish authoritative information"),
    MatterKind.PUBLIC_OPINION: ("舆情回应", "respond to public opinion"),
    MatterKind.DISCLOSURE_REQUEST: ("依申请公开答复", "reply to the disclosure request"),
}
SIGNIN_OUTCOME: Words = {
    SignInOutcome.SUCCESS: ("成功", "success"), SignInOutcome.REFUSED: ("失败（用户名或密码错误）", "refused"),
    SignInOutcome.THROTTLED: ("被拒绝（失败次数过多）", "throttled"),
}

# The catalogue key prefix of each table. Obligation and incident states share
# "state." (their values do not overlap).
TABLES: tuple[tuple[str, Words], ...] = (
    ("role", ROLE), ("group", GROUP), ("contact", CONTACT_ROLE), ("severity", SEVERITY),
    ("state", OBLIGATION_STATE), ("state", INCIDENT_STATE), ("waiver", WAIVER_STATE),
    ("nstate", NOTIFICATION_STATE), ("step", STEP_KIND), ("channel", CHANNEL), ("kind", TIMELINE_KIND),
    ("decision", DECISION), ("matter", MATTER), ("duty", DUTY), ("signin", SIGNIN_OUTCOME),
)


_COLUMN = {Language.ZH: 0, Language.EN: 1}


def catalogue(language: Language) -> dict[str, str]:
    """Every table's words in one language, keyed ``<prefix>.<value>``."""
    column = _COLUMN[language]
    return {f"{prefix}.{member.value}": words[column] for prefix, table in TABLES for member, words in table.items()}


def chinese(table: Words) -> dict[str, str]:
    """One table's Chinese words by plain value, for text outside the pages (SMS replies, the ack page)."""
    return {member.value: words[0] for member, words in table.items()}
