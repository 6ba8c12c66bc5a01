"""Every word the pages show, in Chinese (the default) and English.

Templates call ``t("key")``; a key missing in English falls back to Chinese,
and a key missing everywhere shows itself, so a gap is visible, not fatal.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")

ZH: dict[str, str] = {
    "app": "阳光时钟", "tagline": "重特大突发事件信息发布时限", "skip": "跳到正文", "lang.switch": "English",
    "nav.label": "主菜单", "nav.board": "值班看板", "nav.new": "登记事件", "nav.outbox": "发件箱", "nav.cases": "问责案件",
    "nav.departments": "责任单位", "nav.users": "用户", "nav.signout": "退出登录", "nav.signed_in_as": "当前用户",
    "role.duty_officer": "值班员", "role.department_head": "单位负责人", "role.supervisor": "督查", "role.admin": "管理员",
    # sign-in
    "signin.title": "登录", "signin.name": "用户名", "signin.password": "密码", "signin.submit": "登录",
    "signin.failed": "用户名或密码不正确。", "signin.locked": "登录失败次数过多，请 {minutes} 分钟后再试。",
    "signin.signed_out": "您已退出登录。",
    "csrf.refused": "表单已过期或来源无效，请返回刷新页面后重新提交。",
    # board
    "board.title": "值班看板", "board.empty": "当前没有未结束的事件。", "board.updated": "更新于",
    "board.outbox_mode": "未配置短信或邮件服务，提醒存入发件箱（{channels}）。",
    "board.latest": "最新提醒", "board.acked": "已签收", "board.not_acked": "尚无人签收", "board.none_sent": "尚未发送提醒",
    "board.no_deadline": "本级别事件无发布时限要求。",
    "col.title": "事件", "col.severity": "级别", "col.department": "责任单位", "col.deadlines": "时限",
    "col.obligation": "时限要求", "col.due": "截止时间", "col.left": "剩余 / 超时", "col.state": "状态",
    "col.fulfilled": "完成时间", "col.evidence": "证据", "col.time": "时间", "col.step": "环节", "col.channel": "渠道",
    "col.to": "接收人", "col.ack": "签收", "col.kind": "事项", "col.actor": "操作人", "col.detail": "详情",
    "col.subject": "标题", "col.body": "正文", "col.incident": "事件", "col.decision": "处理", "col.breached": "超时时间",
    "col.contacts": "联系人", "col.code": "代码", "col.name": "名称", "col.role": "角色", "col.active": "状态",
    "left": "剩余", "overdue": "已超时",
    "severity.I": "特别重大（I 级）", "severity.II": "重大（II 级）", "severity.III": "较大（III 级）",
    "severity.IV": "一般（IV 级）",
    "state.pending": "进行中", "state.met": "按时完成", "state.met_late": "逾期完成", "state.breached": "已超时",
    "state.cancelled": "已取消", "state.open": "处置中", "state.closed": "已结束",
    "nstate.pending": "待发送", "nstate.sending": "发送中", "nstate.sent": "已发送", "nstate.delivered": "已送达",
    "nstate.failed": "发送失败", "late": "延迟发送",
    "step.registered": "事件登记", "step.reminder": "提醒", "step.warning": "预警", "step.final_warning": "最后预警",
    "step.breached": "已超时", "step.overdue": "超时催办",
    "channel.sms": "短信", "channel.email": "邮件",
    "kind.registered": "登记事件", "kind.corrected": "更正", "kind.milestone": "记录完成", "kind.closed": "结束事件",
    "kind.steps_planned": "排定提醒", "kind.step_fired": "发出提醒", "kind.step_skipped": "跳过提醒",
    "kind.notification_sent": "提醒已发送", "kind.notification_delivered": "提醒已送达",
    "kind.notification_failed": "提醒发送失败", "kind.notification_retry": "提醒重试", "kind.breached": "超时",
    "kind.breach_withdrawn": "撤销超时", "kind.obligations_cancelled": "取消时限", "kind.acknowledged": "签收",
    "kind.case_decided": "问责决定",
    # incident
    "incident.occurred": "发生时间", "incident.registered": "登记时间", "incident.location": "地点",
    "incident.description": "事件概况", "incident.state": "状态", "incident.deadlines": "时限要求",
    "incident.notifications": "提醒与签收", "incident.timeline": "时间线", "incident.no_notifications": "尚无提醒。",
    "incident.closed_because": "结束原因", "incident.registered_by": "登记人",
    "new.title": "登记突发事件", "new.submit": "登记", "new.occurred_hint": "当地时间（{zone}）",
    "field.title": "事件名称", "field.severity": "事件级别", "field.occurred_at": "发生时间",
    "field.department": "责任单位", "field.description": "事件概况", "field.location": "地点",
    "field.reason": "原因", "field.obligation": "时限要求", "field.at": "完成时间", "field.evidence_url": "证据链接",
    "field.note": "备注", "field.decision": "处理决定", "field.choose": "请选择…",
    "correct.title": "更正发生时间或级别", "correct.submit": "保存更正",
    "milestone.title": "记录完成情况", "milestone.submit": "记录", "milestone.nothing": "没有待记录的时限要求。",
    "close.title": "结束事件", "close.submit": "结束事件",
    "saved.registered": "事件已登记，时限开始计算。", "saved.corrected": "更正已保存。",
    "saved.milestone": "已记录。", "saved.closed": "事件已结束。", "saved.nothing": "没有需要更正的内容。",
    "saved.decided": "已作出处理决定。", "saved.department": "责任单位已保存。", "saved.user": "用户已创建。",
    # outbox, cases, admin
    "outbox.title": "发件箱", "outbox.empty": "发件箱为空。",
    "outbox.explain": "未配置短信（Twilio）或邮件（SMTP）服务时，提醒保存在这里。",
    "cases.title": "问责案件", "cases.empty": "没有问责案件。", "cases.pending": "待处理",
    "decision.pending": "待处理", "decision.notice": "通报批评", "decision.summons": "约谈", "decision.waived": "免予问责",
    "cases.submit": "作出决定",
    "departments.title": "责任单位", "departments.new": "新增责任单位", "departments.submit": "保存",
    "departments.edit": "编辑", "departments.edit_title": "编辑责任单位 {code}",
    "field.code": "单位代码", "field.name": "单位名称", "field.supervisory": "督查单位（政务公开领导小组办公室）",
    "contact.legend": "联系人 {n}", "contact.name": "姓名", "contact.role": "职务", "contact.mobile": "手机号",
    "contact.email": "邮箱", "contact.head": "主要负责人", "contact.deputy": "分管负责人",
    "contact.hint": "手机号用国际格式，如 +8613800000001；不需要的行留空。",
    "users.title": "用户", "users.new": "新增用户", "users.submit": "创建用户", "users.active": "启用",
    "users.inactive": "停用", "field.user_name": "用户名", "field.role": "角色", "field.user_department": "所属单位",
    "field.user_department_hint": "单位负责人必须选择所属单位。", "field.password": "密码（至少 8 位）",
    "users.token": "该用户的 API 令牌（只显示这一次）：",
    # errors
    "error.title": "出错了", "error.forbidden": "您的角色无权执行此操作。", "error.not_found": "未找到该页面或记录。",
    "error.other_department": "该事件属于其他单位。", "error.back": "返回看板", "error.form": "请修改下面标出的内容。",
    "err.required": "此项必填。", "err.too_long": "不能超过 {max} 个字符。", "err.choice": "请选择一个有效选项。",
    "err.code": "以字母开头，只含字母、数字、- 或 _，最多 32 位。", "err.time": "请填写有效的日期和时间。",
    "err.url": "请填写以 http:// 或 https:// 开头的链接。", "err.mobile": "手机号须为国际格式，如 +8613800000001。",
    "err.email": "邮箱地址无效。", "err.contact_reachable": "联系人需填写手机号或邮箱。",
    "err.nothing_to_correct": "请修改发生时间或级别。", "err.occurred_future": "发生时间不能晚于当前时间 5 分钟以上。",
    "err.occurred_after_milestone": "发生时间不能晚于已记录的完成时间。", "err.milestone_future": "完成时间不能晚于当前时间。",
    "err.milestone_before": "完成时间不能早于事件发生时间。", "err.no_department": "没有这个责任单位。",
    "err.already_recorded": "该时限要求已记录过。", "err.cancelled": "该时限要求已取消，无需记录。",
    "err.closed": "事件已结束。", "err.exists": "已存在同名记录。", "err.one_supervisory": "只能有一个督查单位。",
    "err.head_needs_department": "单位负责人必须选择所属单位。", "err.password_short": "密码至少 8 位。",
    "err.recorded_concurrently": "他人刚刚记录了此项，请刷新页面。", "err.case_decided": "该案件已处理。",
    "err.invalid": "内容无效。",
    "err.characters_in": "表单字段 {field} 含有无法保存的字符（如 NUL），请删除后重新提交。",
}

EN: dict[str, str] = {
    "app": "Sunclock", "tagline": "Disclosure deadlines of major emergencies", "skip": "Skip to content",
    "lang.switch": "中文",
    "nav.label": "Main menu", "nav.board": "Board", "nav.new": "Register", "nav.outbox": "Outbox", "nav.cases": "Cases",
    "nav.departments": "Departments", "nav.users": "Users", "nav.signout": "Sign out", "nav.signed_in_as": "Signed in as",
    "role.duty_officer": "duty officer", "role.department_head": "department head", "role.supervisor": "supervisor",
    "role.admin": "admin",
    "signin.title": "Sign in", "signin.name": "User name", "signin.password": "Password", "signin.submit": "Sign in",
    "signin.failed": "Wrong user name or password.",
    "signin.locked": "Too many failed sign-ins; try again in {minutes} minutes.", "signin.signed_out": "You have signed out.",
    "csrf.refused": "This form has expired or did not come from Sunclock; go back, reload and submit again.",
    "board.title": "Board", "board.empty": "No open incidents.", "board.updated": "Updated",
    "board.outbox_mode": "No SMS or email provider is configured: messages go to the outbox ({channels}).",
    "board.latest": "Latest message", "board.acked": "Acknowledged by", "board.not_acked": "Not acknowledged yet",
    "board.none_sent": "No message sent yet", "board.no_deadline": "No disclosure deadline applies to this severity.",
    "col.title": "Incident", "col.severity": "Severity", "col.department": "Department", "col.deadlines": "Deadlines",
    "col.obligation": "Obligation", "col.due": "Due", "col.left": "Left / overdue", "col.state": "State",
    "col.fulfilled": "Fulfilled", "col.evidence": "Evidence", "col.time": "Time", "col.step": "Step",
    "col.channel": "Channel", "col.to": "To", "col.ack": "Acknowledged", "col.kind": "What", "col.actor": "Who",
    "col.detail": "Details", "col.subject": "Subject", "col.body": "Body", "col.incident": "Incident",
    "col.decision": "Decision", "col.breached": "Breached at", "col.contacts": "Contacts", "col.code": "Code",
    "col.name": "Name", "col.role": "Role", "col.active": "Status",
    "left": "left", "overdue": "overdue",
    "severity.I": "Especially major (I)", "severity.II": "Major (II)", "severity.III": "Large (III)",
    "severity.IV": "General (IV)",
    "state.pending": "pending", "state.met": "met", "state.met_late": "met late", "state.breached": "breached",
    "state.cancelled": "cancelled", "state.open": "open", "state.closed": "closed",
    "nstate.pending": "pending", "nstate.sending": "sending", "nstate.sent": "sent", "nstate.delivered": "delivered",
    "nstate.failed": "failed", "late": "late",
    "step.registered": "registered", "step.reminder": "reminder", "step.warning": "warning",
    "step.final_warning": "final warning", "step.breached": "breached", "step.overdue": "overdue",
    "channel.sms": "SMS", "channel.email": "email",
    "kind.registered": "registered", "kind.corrected": "corrected", "kind.milestone": "milestone", "kind.closed": "closed",
    "kind.steps_planned": "steps planned", "kind.step_fired": "step sent", "kind.step_skipped": "step skipped",
    "kind.notification_sent": "message sent", "kind.notification_delivered": "message delivered",
    "kind.notification_failed": "message failed", "kind.notification_retry": "message retried",
    "kind.breached": "breached", "kind.breach_withdrawn": "breach withdrawn",
    "kind.obligations_cancelled": "obligations cancelled", "kind.acknowledged": "acknowledged",
    "kind.case_decided": "case decided",
    "incident.occurred": "Occurred", "incident.registered": "Registered", "incident.location": "Location",
    "incident.description": "Description", "incident.state": "State", "incident.deadlines": "Deadlines",
    "incident.notifications": "Messages and acknowledgements", "incident.timeline": "Timeline",
    "incident.no_notifications": "No messages yet.", "incident.closed_because": "Closed because",
    "incident.registered_by": "Registered by",
    "new.title": "Register an incident", "new.submit": "Register", "new.occurred_hint": "local time ({zone})",
    "field.title": "Title", "field.severity": "Severity", "field.occurred_at": "Occurred at",
    "field.department": "Responsible department", "field.description": "Description", "field.location": "Location",
    "field.reason": "Reason", "field.obligation": "Obligation", "field.at": "Done at", "field.evidence_url": "Evidence link",
    "field.note": "Note", "field.decision": "Decision", "field.choose": "Choose…",
    "correct.title": "Correct start time or severity", "correct.submit": "Save correction",
    "milestone.title": "Record a milestone", "milestone.submit": "Record", "milestone.nothing": "Nothing left to record.",
    "close.title": "Close the incident", "close.submit": "Close incident",
    "saved.registered": "Registered; the clocks are running.", "saved.corrected": "Correction saved.",
    "saved.milestone": "Recorded.", "saved.closed": "Incident closed.", "saved.nothing": "Nothing to correct.",
    "saved.decided": "Decision recorded.", "saved.department": "Department saved.", "saved.user": "User created.",
    "outbox.title": "Outbox", "outbox.empty": "The outbox is empty.",
    "outbox.explain": "Messages are kept here while no SMS (Twilio) or email (SMTP) provider is configured.",
    "cases.title": "Accountability cases", "cases.empty": "No cases.", "cases.pending": "pending",
    "decision.pending": "pending", "decision.notice": "circulated criticism", "decision.summons": "summons interview",
    "decision.waived": "waived", "cases.submit": "Decide",
    "departments.title": "Departments", "departments.new": "New department", "departments.submit": "Save",
    "departments.edit": "Edit", "departments.edit_title": "Edit department {code}",
    "field.code": "Code", "field.name": "Name", "field.supervisory": "Supervisory (open-government office)",
    "contact.legend": "Contact {n}", "contact.name": "Name", "contact.role": "Role", "contact.mobile": "Mobile",
    "contact.email": "Email", "contact.head": "head", "contact.deputy": "deputy",
    "contact.hint": "Mobile numbers in E.164, like +8613800000001; leave unused rows empty.",
    "users.title": "Users", "users.new": "New user", "users.submit": "Create user", "users.active": "active",
    "users.inactive": "inactive", "field.user_name": "User name", "field.role": "Role",
    "field.user_department": "Department", "field.user_department_hint": "Required for a department head.",
    "field.password": "Password (8 characters or more)", "users.token": "API token of this user (shown once):",
    "error.title": "Something is wrong", "error.forbidden": "Your role may not do this.",
    "error.not_found": "No such page or record.", "error.other_department": "This incident belongs to another department.",
    "error.back": "Back to the board", "error.form": "Please correct the fields marked below.",
    "err.required": "Required.", "err.too_long": "At most {max} characters.", "err.choice": "Choose a valid option.",
    "err.code": "A letter, then letters, digits, - or _; at most 32.", "err.time": "Enter a valid date and time.",
    "err.url": "Enter a link starting with http:// or https://.", "err.mobile": "Use E.164, like +8613800000001.",
    "err.email": "Not a valid email address.", "err.contact_reachable": "A contact needs a mobile number or an email.",
    "err.nothing_to_correct": "Change the start time or the severity.",
    "err.occurred_future": "The start time may be at most 5 minutes in the future.",
    "err.occurred_after_milestone": "The start time cannot be after a recorded milestone.",
    "err.milestone_future": "A milestone cannot be in the future.",
    "err.milestone_before": "A milestone cannot come before the incident occurred.",
    "err.no_department": "No such department.", "err.already_recorded": "Already recorded.",
    "err.cancelled": "This obligation was cancelled.", "err.closed": "The incident is closed.",
    "err.exists": "This exists already.", "err.one_supervisory": "Only one department may be supervisory.",
    "err.head_needs_department": "A department head needs a department.",
    "err.password_short": "At least 8 characters.", "err.recorded_concurrently": "Someone recorded this a moment ago.",
    "err.case_decided": "This case was already decided.", "err.invalid": "Not valid.",
    "err.characters_in": "The form field {field} contains a character that cannot be stored (such as NUL); "
                         "remove it and send the form again.",
}

CATALOGUE = {"zh": ZH, "en": EN}

Translator = Callable[..., str]


def translator(lang: str) -> Translator:
    table = CATALOGUE.get(lang, ZH)

    def t(key: str, **values: object) -> str:
        text = table.get(key) or ZH.get(key) or key
        return text.format(**values) if values else text

    return t


# English service messages (monitor/errors.py) and the catalogue key that says them to a person.
SERVICE_MESSAGES: tuple[tuple[str, str], ...] = (
    ("lies more than 5 minutes in the future", "err.occurred_future"),
    ("cannot be later than a milestone", "err.occurred_after_milestone"),
    ("milestone cannot be in the future", "err.milestone_future"),
    ("cannot come before the incident occurred", "err.milestone_before"),
    ("no department with code", "err.no_department"),
    ("was already recorded", "err.already_recorded"),
    ("was cancelled", "err.cancelled"),
    ("is closed", "err.closed"),
    ("is already the supervisory department", "err.one_supervisory"),
    ("exists already", "err.exists"),
    ("needs --department", "err.head_needs_department"),
    ("password has at least 8", "err.password_short"),
    ("user name has 1 to 64", "err.required"),
    ("has no obligation", "err.choice"),
    ("role must be one of", "err.choice"),
    ("recorded by someone else", "err.recorded_concurrently"),
    ("was already decided", "err.case_decided"),
)


def service_message(message: str, t: Translator) -> str:
    for fragment, key in SERVICE_MESSAGES:
        if fragment in message:
            return t(key)
    return message
