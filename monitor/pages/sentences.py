"""A timeline entry read as a sentence: "王局长通过签收链接签收了「发布权威信息」的预警",
not ``step: warning; obligation: authoritative_release``.

Entries keep their facts as keys (they are hash-chained and read by scripts);
this module says them in words, one phrase per entry kind and language, with
obligation keys turned into their titles, department codes into names, states,
steps and channels into :mod:`monitor.terms`' words and times into local time.
A kind without a phrase (a newer one) still reads in words: its details are
labelled and translated one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.vocabulary import Language, TimelineKind

K = TimelineKind

# (zh, en) per kind; {placeholders} are filled from the prepared details.
PHRASES: dict[str, tuple[str, str]] = {
    K.REGISTERED: ("登记事件「{title}」：{severity}，责任单位{department}，发生于 {occurred_at}。",
                   "Registered “{title}”: {severity}, {department}, occurred at {occurred_at}."),
    K.CORRECTED: ("更正{changes}。原因：{reason}", "Corrected {changes}. Reason: {reason}"),
    K.MILESTONE: ("记录「{obligation}」已于 {fulfilled_at} 完成（{state}）。",
                  "Recorded “{obligation}” done at {fulfilled_at} ({state})."),
    K.CLOSED: ("结束事件。原因：{reason}", "Closed the incident. Reason: {reason}"),
    K.STEPS_PLANNED: ("排定提醒：{steps}。", "Planned messages: {steps}."),
    K.STEP_FIRED: ("发出{what}，共 {notifications} 条消息，接收人：{recipients}。",
                   "Sent the {what}: {notifications} message(s) to {recipients}."),
    K.STEP_SKIPPED: ("未发{what}（原定 {planned_at}）：{why}。",
                     "Did not send the {what} (planned {planned_at}): {why}."),
    K.STEP_UNDELIVERABLE: ("{what}找不到可联系的接收人（{groups}）。", "The {what} found nobody to reach ({groups})."),
    K.NOTIFICATION_SENT: ("{step}已通过{channel}发给{recipient}。", "{step} sent by {channel} to {recipient}."),
    K.NOTIFICATION_DELIVERED: ("{step}{channel}已送达{recipient}。", "{step} {channel} delivered to {recipient}."),
    K.NOTIFICATION_FAILED: ("{step}{channel}发给{recipient}失败（第 {attempt} 次）：{error}",
                            "{step} {channel} to {recipient} failed (attempt {attempt}): {error}"),
    K.NOTIFICATION_RETRY: ("{step}{channel}发给{recipient}暂未成功（第 {attempt} 次），{retry_at} 重试：{error}",
                           "{step} {channel} to {recipient} not yet sent (attempt {attempt}); "
                           "retry at {retry_at}: {error}"),
    K.NOTIFICATION_SKIPPED: ("{step}{channel}不再适用，未发给{recipient}：{why}。",
                             "{step} {channel} to {recipient} no longer applies and was not sent: {why}."),
    K.ACKNOWLEDGED: ("{recipient}通过{via}签收了{what}。", "{recipient} acknowledged the {what} by {via}."),
    K.BREACHED: ("「{obligation}」到 {due_at} 仍未完成，记为超时。",
                 "“{obligation}” was not done by {due_at}: breached."),
    K.BREACH_WITHDRAWN: ("「{obligation}」的截止时间改为 {due_at}，撤销 {breached_at} 的超时记录（问责案件保留）。",
                         "“{obligation}” is now due at {due_at}; the breach of {breached_at} is withdrawn "
                         "(its case stays)."),
    K.REGRADED: ("「{obligation}」由{from_state}改为{to_state}。",
                 "“{obligation}” went from {from_state} to {to_state}."),
    K.CASE_DECIDED: ("问责决定：「{obligation}」{decision}。理由：{reason}",
                     "Case decided: “{obligation}” {decision}. Reason: {reason}"),
    K.WAIVER_REQUESTED: ("申请免除{obligations}。理由：{reason}", "Asked to waive {obligations}. Reason: {reason}"),
    K.WAIVER_GRANTED: ("批准免除「{obligation}」。理由：{reason}", "Waived “{obligation}”. Reason: {reason}"),
    K.WAIVER_REFUSED: ("驳回「{obligation}」的免除申请，时限照常计算。理由：{reason}",
                       "Refused to waive “{obligation}”; the clock goes on. Reason: {reason}"),
    K.WAIVER_LAPSED: ("「{obligation}」的免除申请失效。", "The waiver request for “{obligation}” lapsed."),
    K.OBLIGATIONS_CANCELLED: ("取消未完成的时限要求。", "Cancelled the unmet obligations."),
    K.EXTENDED: ("「{obligation}」的时限延长 {working_days} 个工作日，由 {from_due_at} 改为 {to_due_at}。"
                 "原因：{reason}",
                 "“{obligation}” extended by {working_days} working days, from {from_due_at} to {to_due_at}. "
                 "Reason: {reason}"),
    K.SERIES_ENDED: ("持续发布随事件结束而终止：{obligations}不再需要。原因：{reason}",
                     "The incident closed, so keep publishing ends: {obligations} no longer owed. Reason: {reason}"),
    K.MILESTONE_WITHDRAWN: ("撤回「{obligation}」于 {fulfilled_at} 的完成记录，恢复为{state}。原因：{reason}",
                            "Withdrew the milestone of “{obligation}” at {fulfilled_at}; it is {state} again. "
                            "Reason: {reason}"),
}

# Additions said after the phrase when the detail carries them.
EXTRAS: dict[str, tuple[str, str]] = {
    "late_registration": ("发生 {late_by}后才登记，属延迟登记，法定时限仍从发生时间起算。",
                          " Registered {late_by} after it happened: a late registration; the legal clock still runs "
                          "from when it happened."),
    "detected_late": ("（事后补记，超时时间按截止时间计）",
                      " (recorded afterwards; the breach time is the deadline)"),
    "late": ("（延迟发送）", " (sent late)"),
    "evidence_url": ("证据：{evidence_url}", " Evidence: {evidence_url}"),
    "note": ("备注：{note}", " Note: {note}"),
    "fallback": ("已改用{fallback}。", " Falling back to {fallback}."),
    "calendar_incomplete": ("（日历尚未覆盖该年份，暂按周末推算）",
                            " (the calendar does not cover that year yet; counted on weekends alone)"),
    "stand_ins": ("代理接收：{stand_ins}。", " Stand-ins: {stand_ins}."),
    "steps_cancelled": ("取消 {steps_cancelled} 个待发提醒。", " {steps_cancelled} pending message(s) cancelled."),
}

# Labels for details of kinds without a phrase.
LABELS: dict[str, tuple[str, str]] = {
    "obligation": ("时限要求", "obligation"), "step": ("环节", "step"), "state": ("状态", "state"),
    "reason": ("原因", "reason"), "due_at": ("截止时间", "due"), "at": ("时间", "at"),
    "working_days": ("工作日", "working days"), "channel": ("渠道", "channel"), "recipient": ("接收人", "to"),
    "fulfilled_at": ("完成时间", "done at"), "kind": ("事项类型", "kind"), "occurrence": ("第几次", "occurrence"),
}

# English reasons written by the scheduler (monitor/dispatch.py, monitor/relevance.py).
_WHY: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"^(skipped: )?its deadline has passed$"), ("时限已过，预警不再发送", "its deadline has passed")),
    (re.compile(r"^(skipped: )?a later step of the same deadline was due$"),
     ("同一时限有更晚的环节同时到期，只发最新的一条", "a later step of the same deadline was due")),
    (re.compile(r"^(skipped: )?its deadline lies in the future again$"),
     ("截止时间已改到以后", "its deadline lies in the future again")),
    (re.compile(r"^(skipped: )?its obligation is no longer breached$"),
     ("该时限已不再超时", "its obligation is no longer breached")),
)
_WHY_STATE = re.compile(r"^(?:skipped: )?its obligation is (\w+)$")
_WHY_DECIDED = re.compile(r"^(?:skipped: )?its accountability case was decided \((\w+)\)$")
# Steps named as the message they are, where the table's word names the state ("已超时").
_STEP_NOUNS = {"breached": ("超时通知", "breach notice"), "registered": ("登记通知", "registration notice"),
               "overdue": ("超时催办", "overdue reminder")}
_VIA = {"link": ("签收链接", "the link"), "sms": ("短信回复", "SMS reply"), "voice": ("电话按键", "phone keypad")}
_ACTORS = {"scheduler": ("系统", "system"), "twilio": ("短信服务商", "SMS provider")}


@dataclass
class Speaker:
    """What turning keys into words needs: the language, the pages' words, the
    incident's obligation titles, the departments' names and local time."""

    lang: str
    t: Callable[..., str]
    titles: Mapping[str, str]
    departments: Mapping[str, str]
    local: Callable[[datetime], str]
    short: Callable[[datetime], str]

    @property
    def column(self) -> int:
        return 0 if self.lang == Language.ZH else 1

    @property
    def sep(self) -> str:
        return "、" if self.column == 0 else ", "

    def quoted(self, text: str) -> str:
        return f"「{text}」" if self.column == 0 else f"“{text}”"

    def obligation(self, key: object) -> str:
        text = str(key)
        if text in self.titles:
            return self.titles[text]
        base, _, number = text.partition("#")
        if base in self.titles or number:
            title = self.titles.get(base, base)
            return f"{title}（第 {number} 次）" if self.lang == Language.ZH else f"{title} #{number}"
        return text

    def words(self, prefix: str, value: object) -> str:
        return self.sep.join(self.t(f"{prefix}.{part.strip()}") for part in str(value).split(",") if part.strip())

    def time(self, value: object) -> str:
        try:
            return self.local(datetime.fromisoformat(str(value)))
        except ValueError:
            return str(value)

    def why(self, value: object) -> str:
        text = str(value)
        for pattern, said in _WHY:
            if pattern.match(text):
                return said[self.column]
        if found := _WHY_STATE.match(text):
            return ("该时限已是“{}”" if self.column == 0 else "its obligation is {}").format(
                self.t(f"state.{found.group(1)}"))
        if found := _WHY_DECIDED.match(text):
            return ("问责案件已作出决定（{}）" if self.column == 0 else "its case was decided ({})").format(
                self.t(f"decision.{found.group(1)}"))
        return text

    def actor(self, name: str) -> str:
        return _ACTORS[name][self.column] if name in _ACTORS else name

    def sentence(self, kind: str, detail: Mapping[str, Any]) -> str:
        values = self._values(detail)
        phrase = PHRASES.get(kind)
        if phrase is None:
            return self._listed(kind, values)
        text = phrase[self.column].format_map(_Blank(values))
        for name, extra in EXTRAS.items():
            if detail.get(name) not in (None, "", False, 0, [], {}):
                text += extra[self.column].format_map(_Blank(values))
        return text

    def _listed(self, kind: str, values: Mapping[str, str]) -> str:
        label = self.t(f"kind.{kind}")
        shown = [f"{LABELS[k][self.column]}：{v}" if self.column == 0 else f"{LABELS[k][1]}: {v}"
                 for k, v in values.items() if k in LABELS and v]
        return label + ("：" if self.column == 0 else ": ") + "；".join(shown) if shown else label

    def _values(self, detail: Mapping[str, Any]) -> dict[str, str]:
        values: dict[str, str] = {}
        for key, value in detail.items():
            values[key] = self._value(key, value)
        step = detail.get("step")
        obligation = detail.get("obligation")
        what = self._step(step) if step else ""
        if step and detail.get("occurrence", 1) not in (1, None):
            what += f"（第 {detail['occurrence']} 次）" if self.column == 0 else f" #{detail['occurrence']}"
        if obligation:
            what = (f"「{self.obligation(obligation)}」的{what}" if self.column == 0
                    else f"{what} for “{self.obligation(obligation)}”")
        values["what"] = what or _STEP_NOUNS["registered"][self.column]
        if "obligations" in detail:
            values["obligations"] = self.sep.join(self.quoted(self.obligation(k)) for k in detail["obligations"] or [])
        if "occurred_at" in detail and isinstance(detail["occurred_at"], dict) or "severity" in detail and isinstance(
                detail["severity"], dict):
            values["changes"] = self._changes(detail)
        if isinstance(detail.get("stand_ins"), list):  # who stood in for whom (SPEC §14.3)
            values["stand_ins"] = self.sep.join(
                self.t("standins.for", standin=s.get("standin"), contact=s.get("contact"))
                for s in detail["stand_ins"] if isinstance(s, dict))
        if "late_by" in detail:
            values["late_by"] = _span(int(detail["late_by"]), self.column)
        return values

    def _value(self, key: str, value: Any) -> str:
        if value is None:
            return ""
        if key == "obligation":
            return self.obligation(value)
        if key == "step" and isinstance(value, str):
            return self._step(value)
        if key in ("step", "channel", "fallback", "decision", "severity") and isinstance(value, str):
            return self.words({"fallback": "channel"}.get(key, key), value)
        if key in ("state", "from_state", "to_state"):
            return self.t(f"state.{value}")
        if key == "department":
            return self.departments.get(str(value), str(value))
        if key in ("why", "error"):
            return self.why(value)
        if key == "via":
            return _VIA.get(str(value), (str(value), str(value)))[self.column]
        if key == "groups":
            return self.sep.join(self.t(f"group.{g}") for g in value)
        if key in ("recipients", "reached") and isinstance(value, list):
            return self.sep.join(map(str, value)) or "—"
        if key == "recipient":
            return self.sep.join(part.strip() for part in str(value).split(","))
        if key == "steps" and isinstance(value, list):
            return self._planned(value)
        if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
            return self.time(value)
        return str(value)

    def _planned(self, steps: list[dict]) -> str:
        """Planned steps by obligation: "「发布权威信息」提醒 12-03 12:17、预警 12-03 13:17、超时催办 ×24"."""
        groups: dict[str, list[dict]] = {}
        for step in steps:
            groups.setdefault(step.get("obligation") or "", []).append(step)
        parts = []
        for key, rows in groups.items():
            said: list[str] = []
            repeats: dict[str, int] = {}
            for row in rows:
                if row.get("occurrence", 1) > 1:
                    repeats[row["step"]] = repeats.get(row["step"], 1) + 1
                    continue
                said.append(f"{self._step(row['step'])} {self.short(datetime.fromisoformat(row['at']))}")
            said += [f"{self._step(s)} ×{n}" for s, n in repeats.items()]
            head = self.quoted(self.obligation(key)) + ("" if self.column == 0 else " ") if key else ""
            parts.append(head + self.sep.join(said))
        return "；".join(parts) if self.column == 0 else "; ".join(parts)

    def _step(self, step: str) -> str:
        return _STEP_NOUNS[step][self.column] if step in _STEP_NOUNS else self.t(f"step.{step}")

    def _changes(self, detail: Mapping[str, Any]) -> str:
        said = []
        if isinstance(change := detail.get("occurred_at"), dict):
            said.append(("发生时间由 {} 改为 {}" if self.column == 0 else "the time it happened from {} to {}").format(
                self.time(change.get("from")), self.time(change.get("to"))))
        if isinstance(change := detail.get("severity"), dict):
            said.append(("级别由{}改为{}" if self.column == 0 else "severity from {} to {}").format(
                self.t(f"severity.{change.get('from')}"), self.t(f"severity.{change.get('to')}")))
        return "，".join(said) if self.column == 0 else " and ".join(said)


def _span(seconds: int, column: int) -> str:
    hours, minutes = divmod(max(0, seconds) // 60, 60)
    if hours >= 48:  # a disclosure request registered days after it came in
        days, hours = divmod(hours, 24)
        return f"{days} 天" + (f" {hours} 小时" if hours else "") if column == 0 else f"{days} d {hours} h"
    if column == 0:
        return " ".join(([f"{hours} 小时"] if hours else []) + ([f"{minutes} 分钟"] if minutes or not hours else []))
    return (f"{hours} h " if hours else "") + f"{minutes} min"


class _Blank(dict):
    """Formatting values where a missing one reads as nothing, not as a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""
