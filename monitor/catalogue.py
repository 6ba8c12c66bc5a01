"""What every error code (monitor/errors.py) says to a person, in Chinese and
English, and the other words of the acknowledgement page and the SMS replies.

The one place these are translated: the pages (through their translator,
monitor/pages/i18n.py), the acknowledgement page and the SMS replies all look a
code up here. A text names the error's ``params`` in braces; a value it does not
name is ignored, and a name without a value is shown as written.
"""

from __future__ import annotations

from typing import Any

from monitor.errors import ErrorCode as E

ZH: dict[str, str] = {
    E.INCIDENT_UNKNOWN: "没有编号为 {incident_id} 的事件。",
    E.INCIDENT_CLOSED: "事件已结束。",
    E.INCIDENT_OTHER_DEPARTMENT: "该事件属于其他单位。",
    E.OCCURRED_AT_FUTURE: "发生时间不能晚于当前时间 5 分钟以上。",
    E.OCCURRED_AT_AFTER_MILESTONE: "发生时间不能晚于已记录的完成时间。",
    E.NOTHING_TO_CORRECT: "请修改发生时间或级别。",
    E.OBLIGATION_UNKNOWN: "请选择一个有效选项。",
    E.MILESTONE_RECORDED: "该时限要求已记录过。",
    E.MILESTONE_RECORDED_CONCURRENTLY: "他人刚刚记录了此项，请刷新页面。",
    E.MILESTONE_FUTURE: "完成时间不能晚于当前时间。",
    E.MILESTONE_BEFORE_OCCURRED: "完成时间不能早于事件发生时间。",
    E.OBLIGATION_WAIVED: "该时限要求已免除，无需记录。",
    E.WAIVER_DECISION_UNKNOWN: "请选择一个有效选项。",
    E.OBLIGATION_SETTLED: "该时限要求已完成或已免除。",
    E.MILESTONE_NOT_RECORDED: "该时限要求尚未记录完成，无可撤回。",
    E.WAIVER_NOT_REQUESTED: "没有人申请免除，无需驳回。",
    E.CASE_UNKNOWN: "没有编号为 {case_id} 的问责案件。",
    E.CASE_DECIDED: "该案件已处理。",
    E.CASE_OTHER_DEPARTMENT: "该案件属于其他单位。",
    E.DEPARTMENT_UNKNOWN: "没有这个责任单位。",
    E.DEPARTMENT_EXISTS: "已存在同名记录。",
    E.DEPARTMENT_CODE_MISMATCH: "请求中的单位代码 {body_code} 与地址中的单位 {code} 不一致。",
    E.SUPERVISORY_TAKEN: "只能有一个督查单位。",
    E.SUPERVISORY_NEEDS_CONTACT: "督查单位须至少有一名有手机号或邮箱的联系人，否则督查提醒无人接收。",
    E.DEPARTMENT_NEEDS_HEAD: "须至少填写一名职务为“主要负责人”、有手机号或邮箱的联系人，否则提醒无人接收。",
    E.CONTACT_UNREACHABLE: "联系人需填写手机号或邮箱。",
    E.MOBILE_INVALID: "手机号须为国际格式，如 +8613800000001。",
    E.CSV_HEADER: "{filename} 第 1 行：表头须包含以下各列：{columns}",
    E.CSV_INVALID: "文件有以下问题，未导入任何内容：\n{problems}",
    E.USER_UNKNOWN: "没有用户 {name}。",
    E.USER_EXISTS: "已存在同名记录。",
    E.USER_NAME_LENGTH: "此项必填。",
    E.ROLE_UNKNOWN: "请选择一个有效选项。",
    E.ROLE_FORBIDDEN: "您的角色无权执行此操作。",
    E.HEAD_NEEDS_DEPARTMENT: "单位负责人必须选择所属单位。",
    E.PASSWORD_SHORT: "密码至少 8 位。",
    E.PASSWORD_LONG: "密码最多 256 位。",
    E.PASSWORD_ONE_KIND: "密码须混合至少两类字符（字母、数字、符号）。",
    E.PASSWORD_HAS_NAME: "密码不能与用户名相同（包括倒序）。",
    E.PASSWORD_COMMON: "这是最常被猜到的密码之一，请换一个。",
    E.PASSWORD_WRONG: "当前密码不正确。",
    E.PASSWORD_MISMATCH: "两次输入的新密码不一致。",
    E.EVIDENCE_URL_SCHEME: "请填写以 http:// 或 https:// 开头的链接。",
    E.TIME_OUT_OF_RANGE: "日期须在 2000 年至 2100 年之间。",
    E.PERIOD_REVERSED: "起始日期不能晚于截止日期。",
    E.ACK_LINK_INVALID: "此签收链接不完整或已被修改，请使用消息中的原始链接。",
    E.ACK_LINK_EXPIRED: "此签收链接已超过有效期，请联系值班员。",
    E.ACK_TARGET_MISSING: "此链接对应的提醒或接收人已不存在。",
    E.ACK_NOT_SENT: "此提醒未发送给该接收人，无法签收。请使用您收到的消息中的链接。",
    E.SMS_NOT_AN_ACK: "Sunclock：如需签收最近一条提醒，请回复 1 或“收到”。",
    E.SMS_NO_MESSAGE: "Sunclock：没有找到发给此号码的提醒，无需签收。",
    E.DATABASE_UNAVAILABLE: "数据库暂时无法连接，请稍后重试。",
    E.EXTENSION_NOT_ALLOWED: "规则不允许延长该时限。",
    E.EXTENSION_USED: "该时限已延长过一次，不能再次延长。",
    E.EXTENSION_TOO_LONG: "延长不得超过 {max} 个工作日。",
    E.EXTENSION_WAIVER_PENDING: "该时限的免除申请待督查决定，暂不能延长。",
    # the acknowledgement page's headings, by the code it shows (or by what happened)
    "ack_link_invalid.title": "链接无效", "ack_link_expired.title": "链接已过期",
    "ack_target_missing.title": "未找到提醒", "ack_not_sent.title": "未找到提醒",
    "ack.title": "签收提醒", "ack.done.title": "已签收",
    E.DISTRICT_UNKNOWN: "没有代码为 {code} 的辖区。",
    E.DISTRICT_EXISTS: "辖区 {code} 已存在。",
    E.DISTRICT_FORBIDDEN: "您只能办理本辖区的事项，不能办理辖区 {code} 的。",
    E.STANDIN_CONTACT_UNKNOWN: "本单位没有名为 {contact} 的联系人。",
    E.STANDIN_PERIOD_REVERSED: "代理的开始时间须早于结束时间。",
    E.STANDIN_OVERLAP: "{contact} 在这段时间已有代理人（{start} 至 {end}），时段不能重叠。",
    E.STANDIN_FORBIDDEN: "只有管理员或本单位主要负责人可以设置代理人。",
    "ack.recorded": "签收成功，谢谢。", "ack.repeated": "您已签收过此提醒，无需重复签收。",
    # SMS replies to ``1``: {what} names the incident and the step
    "sms.recorded": "Sunclock：已签收{what}提醒，谢谢。", "sms.repeated": "Sunclock：您已签收过{what}提醒。",
    # what a phone call says after a key press (SPEC §15.2)
    "voice.recorded": "已签收{what}提醒，谢谢，再见。", "voice.repeated": "您已签收过{what}提醒，再见。",
    "voice.press_1": "没有收到按键1。确认收到提醒，请按1。", "voice.no_message": "没有找到这条提醒，无需签收，再见。",
}

EN: dict[str, str] = {
    E.INCIDENT_UNKNOWN: "No incident {incident_id}.",
    E.INCIDENT_CLOSED: "The incident is closed.",
    E.INCIDENT_OTHER_DEPARTMENT: "This incident belongs to another department.",
    E.OCCURRED_AT_FUTURE: "The start time may be at most 5 minutes in the future.",
    E.OCCURRED_AT_AFTER_MILESTONE: "The start time cannot be after a recorded milestone.",
    E.NOTHING_TO_CORRECT: "Change the start time or the severity.",
    E.OBLIGATION_UNKNOWN: "Choose a valid option.",
    E.MILESTONE_RECORDED: "Already recorded.",
    E.MILESTONE_RECORDED_CONCURRENTLY: "Someone recorded this a moment ago.",
    E.MILESTONE_FUTURE: "A milestone cannot be in the future.",
    E.MILESTONE_BEFORE_OCCURRED: "A milestone cannot come before the incident occurred.",
    E.OBLIGATION_WAIVED: "This obligation was waived.",
    E.WAIVER_DECISION_UNKNOWN: "Choose a valid option.",
    E.OBLIGATION_SETTLED: "This obligation is already met or waived.",
    E.MILESTONE_NOT_RECORDED: "No milestone of this obligation is recorded; there is nothing to withdraw.",
    E.WAIVER_NOT_REQUESTED: "Nobody asked for a waiver.",
    E.CASE_UNKNOWN: "No case {case_id}.",
    E.CASE_DECIDED: "This case was already decided.",
    E.CASE_OTHER_DEPARTMENT: "This case belongs to another department.",
    E.DEPARTMENT_UNKNOWN: "No such department.",
    E.DEPARTMENT_EXISTS: "This exists already.",
    E.DEPARTMENT_CODE_MISMATCH: "The code {body_code} in the request is not the department {code} in the address.",
    E.SUPERVISORY_TAKEN: "Only one department may be supervisory.",
    E.SUPERVISORY_NEEDS_CONTACT: "The supervisory office needs at least one contact with a mobile number or an "
                                 "email, or nobody gets the supervisors' messages.",
    E.DEPARTMENT_NEEDS_HEAD: "Add at least one contact of role head with a mobile number or an email, or nobody "
                             "gets the reminders.",
    E.CONTACT_UNREACHABLE: "A contact needs a mobile number or an email.",
    E.MOBILE_INVALID: "Use E.164, like +8613800000001.",
    E.CSV_HEADER: "{filename}:1: the header needs the columns {columns}",
    E.CSV_INVALID: "Nothing was imported; the file has these problems:\n{problems}",
    E.USER_UNKNOWN: "No user {name}.",
    E.USER_EXISTS: "This exists already.",
    E.USER_NAME_LENGTH: "Required.",
    E.ROLE_UNKNOWN: "Choose a valid option.",
    E.ROLE_FORBIDDEN: "Your role may not do this.",
    E.HEAD_NEEDS_DEPARTMENT: "A department head needs a department.",
    E.PASSWORD_SHORT: "At least 8 characters.",
    E.PASSWORD_LONG: "At most 256 characters.",
    E.PASSWORD_ONE_KIND: "Mix at least two kinds of character (letters, digits, symbols).",
    E.PASSWORD_HAS_NAME: "A password may not be the user name, forwards or backwards.",
    E.PASSWORD_COMMON: "This is one of the first passwords any guesser tries; choose another.",
    E.PASSWORD_WRONG: "The current password is wrong.",
    E.PASSWORD_MISMATCH: "The two new passwords differ.",
    E.EVIDENCE_URL_SCHEME: "Enter a link starting with http:// or https://.",
    E.TIME_OUT_OF_RANGE: "Dates lie between 2000 and 2100.",
    E.PERIOD_REVERSED: "The start cannot be after the end.",
    E.ACK_LINK_INVALID: "This acknowledgement link is incomplete or was altered; use the link in the message.",
    E.ACK_LINK_EXPIRED: "This acknowledgement link has expired; ask the duty officer.",
    E.ACK_TARGET_MISSING: "The message or the recipient of this link no longer exists.",
    E.ACK_NOT_SENT: "This message was not sent to this recipient and cannot be acknowledged here. Use the link "
                    "in the message you received.",
    E.SMS_NOT_AN_ACK: "Sunclock: to acknowledge the latest message, reply 1.",
    E.SMS_NO_MESSAGE: "Sunclock: no message was sent to this number; there is nothing to acknowledge.",
    E.DATABASE_UNAVAILABLE: "The database cannot be reached right now; try again in a few seconds.",
    E.EXTENSION_NOT_ALLOWED: "The rule allows no extension of this deadline.",
    E.EXTENSION_USED: "This deadline was extended once already; it cannot be extended again.",
    E.EXTENSION_TOO_LONG: "At most {max} working days.",
    E.EXTENSION_WAIVER_PENDING: "A waiver of this deadline awaits a supervisor's decision; it cannot be extended now.",
    E.DISTRICT_UNKNOWN: "No district with code {code}.",
    E.DISTRICT_EXISTS: "District {code} exists already.",
    E.DISTRICT_FORBIDDEN: "You act for your own district only, not for {code}.",
    E.STANDIN_CONTACT_UNKNOWN: "The department has no contact named {contact}.",
    E.STANDIN_PERIOD_REVERSED: "A stand-in period must start before it ends.",
    E.STANDIN_OVERLAP: "{contact} already has a stand-in from {start} to {end}; periods may not overlap.",
    E.STANDIN_FORBIDDEN: "Only an admin or the department's head may set a stand-in.",
    "ack_link_invalid.title": "Link not valid", "ack_link_expired.title": "Link expired",
    "ack_target_missing.title": "Message not found", "ack_not_sent.title": "Message not found",
    "ack.title": "Acknowledge a message", "ack.done.title": "Acknowledged",
    "ack.recorded": "Acknowledged, thank you.", "ack.repeated": "You had acknowledged this message already.",
    "sms.recorded": "Sunclock: acknowledged {what}, thank you.",
    "sms.repeated": "Sunclock: you had acknowledged {what}.",
    "voice.recorded": "Acknowledged {what}. Thank you, goodbye.",
    "voice.repeated": "You had acknowledged {what} already. Goodbye.",
    "voice.press_1": "No 1 was pressed. To acknowledge the message, press 1.",
    "voice.no_message": "This message was not found; there is nothing to acknowledge. Goodbye.",
}

TEXTS: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


class _AsWritten(dict):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def phrase(key: str, lang: str = "zh", **params: Any) -> str:
    """The text of a code (or another key above) in ``lang``, Chinese when that
    language lacks it, the key itself when nobody wrote it: visible, not fatal."""
    text = TEXTS.get(lang, ZH).get(key) or ZH.get(key) or str(key)
    return text.format_map(_AsWritten(params))
