"""Every word the pages show, in Chinese (the default) and English.

Templates call ``t("key")``; a key missing in English falls back to Chinese,
and a key missing everywhere shows itself, so a gap is visible, not fatal.
The words for states, kinds, roles and channels come from :mod:`monitor.terms`,
one table per enum of rules/vocabulary.py.

An error is said by its code, ``t(exc.code, **exc.params)``: the translator
reads error codes from the one catalogue of error texts, monitor/catalogue.py.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor import catalogue, terms
from rules.vocabulary import Language

LANGUAGES: tuple[Language, ...] = tuple(Language)

ZH: dict[str, str] = terms.catalogue(Language.ZH) | {
    "app": "阳光时钟", "tagline": "政务公开法定时限", "skip": "跳到正文", "lang.switch": "English",
    "nav.label": "主菜单", "nav.board": "值班看板", "nav.new": "登记事件", "nav.outbox": "发件箱", "nav.cases": "问责案件",
    "nav.departments": "责任单位", "nav.users": "用户", "nav.signout": "退出登录", "nav.signed_in_as": "当前用户",
    # sign-in
    "signin.title": "登录", "signin.name": "用户名", "signin.password": "密码", "signin.submit": "登录",
    "signin.failed": "用户名或密码不正确。", "signin.locked": "登录失败次数过多，请于 {at} 后再试（{seconds} 秒后）。",
    "signin.signed_out": "您已退出登录。",
    "csrf.refused": "表单已过期或来源无效，请返回刷新页面后重新提交。",
    # board
    "board.title": "值班看板", "board.empty": "当前没有未结束的事件。", "board.updated": "更新于",
    "board.outbox_mode": "未配置短信或邮件服务，提醒存入发件箱（{channels}）。",
    "board.latest": "最新提醒", "board.acked": "已签收", "board.not_acked": "尚无人签收", "board.none_sent": "尚未发送提醒",
    "board.no_deadline": "本级别事件无发布时限要求。",
    "board.unreached": "无人可送达", "board.nobody_reached": "提醒无法送达任何人",
    "incident.unreached": "以下提醒找不到可联系的接收人，请立即补充联系人：",
    "col.title": "事件", "col.severity": "级别", "col.department": "责任单位", "col.deadlines": "时限",
    "col.obligation": "时限要求", "col.due": "截止时间", "col.left": "剩余 / 超时", "col.state": "状态",
    "col.fulfilled": "完成时间", "col.evidence": "证据", "col.time": "时间", "col.step": "环节", "col.channel": "渠道",
    "col.to": "接收人", "col.ack": "签收", "col.kind": "事项", "col.actor": "操作人", "col.detail": "详情",
    "col.subject": "标题", "col.body": "正文", "col.incident": "事件", "col.decision": "处理", "col.breached": "超时时间",
    "col.contacts": "联系人", "col.code": "代码", "col.name": "名称", "col.role": "角色", "col.active": "状态",
    "left": "剩余", "overdue": "已超时",
    "waivers.title": "免除申请", "waivers.hint": "申请免除期间时限照常计算，逾期仍记为超时。",
    "waivers.grant": "批准免除", "waivers.refuse": "驳回", "waivers.asked": "{who} 于 {at} 申请，理由：{reason}",
    "saved.waiver": "免除决定已保存。",
    "late": "延迟发送",
    # incident
    "incident.occurred": "发生时间", "incident.registered": "登记时间", "incident.location": "地点",
    "incident.description": "事件概况", "incident.state": "状态", "incident.deadlines": "时限要求",
    "incident.notifications": "提醒与签收", "incident.timeline": "时间线", "incident.no_notifications": "尚无提醒。",
    "incident.closed_because": "结束原因", "incident.registered_by": "登记人",
    "new.title": "登记突发事件", "new.submit": "登记", "new.occurred_hint": "按当地时间填写",
    "new.occurred_why": "填写事件实际发生的时间（当地时间），不是接报或登记的时间：法定时限从发生时起算，"
                        "如 5 小时内发布权威信息；依申请公开事项填收到申请的时间。",
    "new.late_warning": "发生时间早于现在 1 小时以上：这是一次延迟登记，时限早已开始计算，可能已经超时；"
                        "时间线会记录为延迟登记。请核对日期和时间。",
    "new.late_ok": "已核对无误，这是延迟登记",
    "new.late_confirm": "发生时间在 {ago}前，请核对后勾选下方确认再登记。",
    "field.title": "事件名称", "field.severity": "事件级别", "field.occurred_at": "发生时间",
    "field.department": "责任单位", "field.description": "事件概况", "field.location": "地点",
    "field.reason": "原因", "field.obligation": "时限要求", "field.at": "完成时间", "field.evidence_url": "证据链接",
    "field.note": "备注", "field.decision": "处理决定", "field.choose": "请选择…",
    "correct.title": "更正发生时间或级别", "correct.submit": "保存更正",
    "milestone.title": "记录完成情况", "milestone.submit": "记录", "milestone.nothing": "没有待记录的时限要求。",
    "close.title": "结束事件", "close.submit": "结束事件",
    "withdraw.title": "撤回误记的完成记录", "withdraw.submit": "撤回完成记录", "withdraw.obligation": "要撤回的记录",
    "withdraw.hint": "仅用于误记。撤回后原记录仍保留在时间线上；该时限恢复计算，已过截止时间的立即记为超时。",
    "saved.withdrawn": "完成记录已撤回，时限恢复计算。",
    # the board that shouts, and read-only board links for wall screens
    "next.record": "{title}后点此登记", "next.record_short": "完成后点此登记", "incident.contacts": "责任单位联系人",
    # account chores
    "account.title": "我的账户", "account.password": "修改密码", "account.current": "当前密码",
    "account.new": "新密码", "account.repeat": "再次输入新密码", "account.submit": "修改密码",
    "account.rules": "密码至少 8 位，混合至少两类字符（字母、数字、符号），不能包含用户名，不能是常见密码。"
                     "修改后所有已登录的页面都需要用新密码重新登录。",
    "signin.changed": "密码已修改，请用新密码登录。",
    "users.password_rules": "混合字母、数字、符号中的至少两类，不含用户名，不用常见密码。", "users.reset": "重置密码", "reset.title": "密码已重置", "reset.done": "{name} 的新密码（只显示这一次）：",
    "reset.hint": "请当面或电话告知本人，并请其登录后在“我的账户”中改成自己的密码。原密码和已登录的页面均已失效。",
    "reset.back": "返回用户列表",
    "signins.title": "登录日志", "signins.explain": "每次登录尝试：谁、何时、从哪里、是否成功（最近 {n} 条）。",
    "signins.client": "来源地址", "signins.outcome": "结果", "signins.none": "没有登录记录。",
    "board.alerts_enable": "开启声音和桌面通知", "board.alerts_on": "声音和桌面通知已开启",
    "board.alerts_off": "声音和桌面通知已关闭", "board.alerts_denied": "浏览器拒绝了桌面通知，仅播放声音",
    "board.offline": "与服务器失去连接 — 最后更新于 {at}。倒计时仍在走，但新的提醒和登记不会显示。",
    "board.shout_step": "发出提醒：{title}", "board.shout_red": "已超时：{title}",
    "nav.boards": "看板链接", "wall.title": "只读看板链接", "wall.read_only": "只读看板 · {name}",
    "wall.explain": "给值班室大屏用：链接只能查看看板，长期有效，不会跳到登录页；不用时请撤销。",
    "wall.created": "看板链接已创建（只显示这一次，请复制到大屏浏览器）：", "wall.created_by": "创建人",
    "wall.last_seen": "最近访问", "wall.revoked_at": "已于 {at} 撤销", "wall.active": "有效",
    "wall.revoke": "撤销", "wall.none": "还没有看板链接。", "wall.new": "新建看板链接", "wall.name": "名称",
    "wall.name_hint": "如：值班室大屏", "wall.submit": "创建链接",
    "wall.invalid": "此看板链接无效或已被撤销，请向管理员索取新链接。",
    "wall.revoked": "此看板链接已被撤销，看板不再更新。请向管理员索取新链接。",
    "saved.registered": "事件已登记，时限开始计算。", "saved.corrected": "更正已保存。",
    "saved.milestone": "已记录。", "saved.closed": "事件已结束；未完成的时限仍在计算，已申请免除，待督办决定。", "saved.nothing": "没有需要更正的内容。",
    "saved.decided": "已作出处理决定。", "saved.department": "责任单位已保存。", "saved.user": "用户已创建。",
    # outbox, cases, admin
    "outbox.title": "发件箱", "outbox.empty": "发件箱为空。",
    "outbox.explain": "未配置短信（Twilio）或邮件（SMTP）服务时，提醒保存在这里。",
    "cases.title": "问责案件", "cases.empty": "没有问责案件。", "cases.pending": "待处理",
    "cases.submit": "作出决定",
    "departments.title": "责任单位", "departments.new": "新增责任单位", "departments.submit": "保存",
    "departments.edit": "编辑", "departments.edit_title": "编辑责任单位 {code}",
    "field.code": "单位代码", "field.name": "单位名称", "field.supervisory": "督查单位（政务公开领导小组办公室）",
    "contact.legend": "联系人 {n}", "contact.name": "姓名", "contact.role": "职务", "contact.mobile": "手机号",
    "contact.email": "邮箱",
    "contact.hint": "手机号用国际格式，如 +8613800000001；不需要的行留空。",
    "users.title": "用户", "users.new": "新增用户", "users.submit": "创建用户", "users.active": "启用",
    "users.inactive": "停用", "field.user_name": "用户名", "field.role": "角色", "field.user_department": "所属单位",
    "field.user_department_hint": "单位负责人必须选择所属单位。", "field.password": "密码（至少 8 位）",
    "users.token": "该用户的 API 令牌（只显示这一次）：",
    "users.revoke": "撤销令牌和登录", "users.revoked": "已撤销该用户的全部 API 令牌和页面登录；其密码仍可重新登录。",
    "col.signin": "登录", "users.blocked": "因登录失败受限，至 {at}", "users.unlock": "解除登录限制",
    # reports and notices (papers for the supervisor, SPEC §11.6)
    "nav.reports": "合规报告", "cases.notice": "通报草稿",
    "report.title": "信息发布时限执行情况", "report.from": "起始日期", "report.to": "截止日期（含当日）",
    "report.submit": "查询", "report.csv": "下载 CSV（Excel）", "report.table": "各单位统计",
    "report.period": "统计期间：{first} 至 {last}（按事件发生日期，当地时间）",
    "report.chart": "各单位按时完成率", "report.incidents": "事件数", "report.rate": "按时率",
    "report.median": "发布权威信息用时（中位数）", "report.hours": "小时",
    "report.note_pending": "另有 {n} 项进行中", "report.note_waived": "{n} 项已免除", "report.no_rate": "暂无已有结果的时限",
    "report.definition": "按时率 = 按时完成 ÷ 已有结果的时限（按时完成、逾期完成、超时未完成，以及超时后才免除的）。"
                         "尚在进行中的时限和到期前免除的时限不计入按时率，单独列出。",
    "report.details": "事件明细", "report.incident_count": "{n} 起事件", "report.no_incidents": "该期间没有事件。",
    "err.date": "请填写有效日期，如 2026-11-28。", "err.date_range": "日期须在 2000 年至 2100 年之间。",
    "err.period": "起始日期不能晚于截止日期。",
    # errors
    "error.title": "出错了", "error.forbidden": "您的角色无权执行此操作。", "error.not_found": "未找到该页面或记录。",
    "error.other_department": "该事件属于其他单位。", "error.back": "返回看板", "error.form": "请修改下面标出的内容。",
    "err.required": "此项必填。", "err.too_long": "不能超过 {max} 个字符。", "err.choice": "请选择一个有效选项。",
    "err.code": "以字母开头，只含字母、数字、- 或 _，最多 32 位。", "err.time": "请填写有效的日期和时间。",
    "err.email": "邮箱地址无效。",
    "err.invalid": "内容无效。",
    # districts and stand-ins (SPEC §14)
    "col.district": "辖区", "field.district": "所属辖区", "field.district_default": "（不变 / 默认辖区）",
    "districts.link": "一个部署服务多个区县：管理辖区", "districts.title": "辖区", "districts.new": "新增辖区",
    "districts.hint": "每个辖区有自己的责任单位和督查单位；只看本辖区的用户用 sunclock user create --district 创建。",
    "saved.district": "辖区已保存。", "col.departments": "责任单位数",
    "standins.link": "代理人", "standins.title": "代理人", "standins.new": "设置代理人",
    "standins.hint": "联系人外出期间，发给他的提醒改发代理人（本人仍收到邮件）；以发送时为准。",
    "standins.contact": "外出的联系人", "standins.standin": "代理人", "standins.standin_name": "代理人姓名",
    "standins.from": "开始时间", "standins.to": "结束时间", "standins.reason": "事由", "standins.none": "尚未设置代理人。",
    "saved.standin": "代理人已设置。", "standins.for": "{standin}（代{contact}）", "report.all_districts": "全部辖区", "report.by_district": "各辖区统计",
    "err.characters_in": "表单字段 {field} 含有无法保存的字符（如 NUL），请删除后重新提交。",
    # extension and keep publishing (SPEC §13.3, §13.4)
    "extend.title": "延长时限", "extend.submit": "延长", "field.working_days": "延长工作日数",
    "extend.hint": "只能延长一次，最多 {max} 个工作日；新时限为延长后最后一个工作日 24 时前。",
    "extend.done": "已延长 {days} 个工作日", "saved.extended": "时限已延长，提醒已重新排定。",
    "board.next_update": "下次更新", "incident.series": "持续发布",
    # kinds of matter (SPEC §13.1)
    "field.kind": "事项类型", "field.duty": "时限职责", "report.by_kind": "按事项类型", "cd.day": "天",
    "new.severity_hint": "突发事件必填；舆情、依申请公开事项可不填（默认一般 IV 级）",
    "incident.calendar_incomplete": "超出已载入的节假日安排年份，仅按周末推算，请补充该年节假日安排",
}

EN: dict[str, str] = terms.catalogue(Language.EN) | {
    "app": "Sunclock", "tagline": "Legal clocks of open government", "skip": "Skip to content",
    "lang.switch": "中文",
    "nav.label": "Main menu", "nav.board": "Board", "nav.new": "Register", "nav.outbox": "Outbox", "nav.cases": "Cases",
    "nav.departments": "Departments", "nav.users": "Users", "nav.signout": "Sign out", "nav.signed_in_as": "Signed in as",
    "signin.title": "Sign in", "signin.name": "User name", "signin.password": "Password", "signin.submit": "Sign in",
    "signin.failed": "Wrong user name or password.",
    "signin.locked": "Too many failed sign-ins from here; try again at {at} (in {seconds} s).", "signin.signed_out": "You have signed out.",
    "csrf.refused": "This form has expired or did not come from Sunclock; go back, reload and submit again.",
    "board.title": "Board", "board.empty": "No open incidents.", "board.updated": "Updated",
    "board.outbox_mode": "No SMS or email provider is configured: messages go to the outbox ({channels}).",
    "board.latest": "Latest message", "board.acked": "Acknowledged by", "board.not_acked": "Not acknowledged yet",
    "board.none_sent": "No message sent yet", "board.no_deadline": "No disclosure deadline applies to this severity.",
    "board.unreached": "Nobody to reach", "board.nobody_reached": "No message could reach anybody",
    "incident.unreached": "These steps found nobody who could be reached; add contacts now:",
    "col.title": "Incident", "col.severity": "Severity", "col.department": "Department", "col.deadlines": "Deadlines",
    "col.obligation": "Obligation", "col.due": "Due", "col.left": "Left / overdue", "col.state": "State",
    "col.fulfilled": "Fulfilled", "col.evidence": "Evidence", "col.time": "Time", "col.step": "Step",
    "col.channel": "Channel", "col.to": "To", "col.ack": "Acknowledged", "col.kind": "What", "col.actor": "Who",
    "col.detail": "Details", "col.subject": "Subject", "col.body": "Body", "col.incident": "Incident",
    "col.decision": "Decision", "col.breached": "Breached at", "col.contacts": "Contacts", "col.code": "Code",
    "col.name": "Name", "col.role": "Role", "col.active": "Status",
    "left": "left", "overdue": "overdue",
    "waivers.title": "Waiver requests", "waivers.hint": "While a waiver is requested the clock keeps running.",
    "waivers.grant": "Grant", "waivers.refuse": "Refuse", "waivers.asked": "asked by {who} at {at}: {reason}",
    "saved.waiver": "Waiver decision saved.",
    "late": "late",
    "incident.occurred": "Occurred", "incident.registered": "Registered", "incident.location": "Location",
    "incident.description": "Description", "incident.state": "State", "incident.deadlines": "Deadlines",
    "incident.notifications": "Messages and acknowledgements", "incident.timeline": "Timeline",
    "incident.no_notifications": "No messages yet.", "incident.closed_because": "Closed because",
    "incident.registered_by": "Registered by",
    "new.title": "Register an incident", "new.submit": "Register", "new.occurred_hint": "local time",
    "new.occurred_why": "When it actually happened (local time), not when it was reported: the legal clock runs "
                        "from then, e.g. 5 hours to publish authoritative information; for a disclosure request, when it was received.",
    "new.late_warning": "This is more than an hour ago: a late registration. The clock has long been running and "
                        "may have run out; the timeline records the late registration. Check the date and time.",
    "new.late_ok": "Checked: this is a late registration",
    "new.late_confirm": "That is {ago} ago; check it and tick the confirmation below to register.",
    "field.title": "Title", "field.severity": "Severity", "field.occurred_at": "Occurred at",
    "field.department": "Responsible department", "field.description": "Description", "field.location": "Location",
    "field.reason": "Reason", "field.obligation": "Obligation", "field.at": "Done at", "field.evidence_url": "Evidence link",
    "field.note": "Note", "field.decision": "Decision", "field.choose": "Choose…",
    "correct.title": "Correct start time or severity", "correct.submit": "Save correction",
    "milestone.title": "Record a milestone", "milestone.submit": "Record", "milestone.nothing": "Nothing left to record.",
    "close.title": "Close the incident", "close.submit": "Close incident",
    "withdraw.title": "Withdraw a milestone recorded by mistake", "withdraw.submit": "Withdraw the milestone",
    "withdraw.obligation": "Milestone to withdraw",
    "withdraw.hint": "For mistakes only. The milestone stays on the timeline; the deadline counts again and, if it "
                     "has passed, is breached at once.",
    "saved.withdrawn": "Milestone withdrawn; the deadline counts again.",
    "next.record": "Done? Record “{title}” here", "next.record_short": "Done? Record it", "incident.contacts": "Department contacts",
    "account.title": "My account", "account.password": "Change password", "account.current": "Current password",
    "account.new": "New password", "account.repeat": "New password again", "account.submit": "Change password",
    "account.rules": "At least 8 characters mixing two kinds (letters, digits, symbols), not containing the user "
                     "name, not a common password. Every signed-in page then signs in again with the new one.",
    "signin.changed": "Password changed; sign in with the new one.",
    "users.password_rules": "Mix two kinds of letters, digits and symbols; not the user name, not a common password.",
    "users.reset": "Reset password", "reset.title": "Password reset", "reset.done": "New password of {name} (shown once):",
    "reset.hint": "Tell it to the person directly and ask them to change it under “My account”. The old password "
                  "and their signed-in pages no longer work.",
    "reset.back": "Back to users",
    "signins.title": "Sign-in log", "signins.explain": "Every sign-in attempt: who, when, from where, and whether "
                                                       "it worked (the latest {n}).",
    "signins.client": "From", "signins.outcome": "Outcome", "signins.none": "No sign-ins recorded.",
    "board.alerts_enable": "Turn on sound and desktop notifications", "board.alerts_on": "Sound and notifications on",
    "board.alerts_off": "Sound and notifications off",
    "board.alerts_denied": "The browser refused desktop notifications; sound only",
    "board.offline": "Cannot reach the server — last update at {at}. The countdowns go on, but new messages "
                     "and registrations will not show.",
    "board.shout_step": "Message sent: {title}", "board.shout_red": "Overdue: {title}",
    "nav.boards": "Board links", "wall.title": "Read-only board links", "wall.read_only": "Read-only board · {name}",
    "wall.explain": "For the duty room's wall screen: the link shows the board only, stays valid and never "
                    "turns into the sign-in page; revoke it when no longer used.",
    "wall.created": "Board link created (shown once; open it in the wall screen's browser):",
    "wall.created_by": "Created by", "wall.last_seen": "Last seen", "wall.revoked_at": "revoked at {at}",
    "wall.active": "active", "wall.revoke": "Revoke", "wall.none": "No board links yet.", "wall.new": "New board link",
    "wall.name": "Name", "wall.name_hint": "e.g. duty room wall", "wall.submit": "Create link",
    "wall.invalid": "This board link is unknown or was revoked; ask an admin for a new one.",
    "wall.revoked": "This board link was revoked; the board no longer updates. Ask an admin for a new one.",
    "saved.registered": "Registered; the clocks are running.", "saved.corrected": "Correction saved.",
    "saved.milestone": "Recorded.", "saved.closed": "Incident closed; unmet deadlines keep running until a supervisor decides on the waiver.", "saved.nothing": "Nothing to correct.",
    "saved.decided": "Decision recorded.", "saved.department": "Department saved.", "saved.user": "User created.",
    "outbox.title": "Outbox", "outbox.empty": "The outbox is empty.",
    "outbox.explain": "Messages are kept here while no SMS (Twilio) or email (SMTP) provider is configured.",
    "cases.title": "Accountability cases", "cases.empty": "No cases.", "cases.pending": "pending",
    "cases.submit": "Decide",
    "departments.title": "Departments", "departments.new": "New department", "departments.submit": "Save",
    "departments.edit": "Edit", "departments.edit_title": "Edit department {code}",
    "field.code": "Code", "field.name": "Name", "field.supervisory": "Supervisory (open-government office)",
    "contact.legend": "Contact {n}", "contact.name": "Name", "contact.role": "Role", "contact.mobile": "Mobile",
    "contact.email": "Email",
    "contact.hint": "Mobile numbers in E.164, like +8613800000001; leave unused rows empty.",
    "users.title": "Users", "users.new": "New user", "users.submit": "Create user", "users.active": "active",
    "users.inactive": "inactive", "field.user_name": "User name", "field.role": "Role",
    "field.user_department": "Department", "field.user_department_hint": "Required for a department head.",
    "field.password": "Password (8 characters or more)", "users.token": "API token of this user (shown once):",
    "users.revoke": "Revoke tokens and sessions",
    "users.revoked": "All API tokens and page sessions of the user were revoked; their password still signs in.",
    "col.signin": "Sign-in", "users.blocked": "held after failed sign-ins until {at}", "users.unlock": "Unlock sign-in",
    "nav.reports": "Reports", "cases.notice": "Draft notice",
    "report.title": "Deadline compliance", "report.from": "From", "report.to": "To (inclusive)",
    "report.submit": "Show", "report.csv": "Download CSV (Excel)", "report.table": "By department",
    "report.period": "Period: {first} to {last} (by the date incidents occurred, local time)",
    "report.chart": "On-time rate by department", "report.incidents": "Incidents", "report.rate": "On time",
    "report.median": "Median time to release", "report.hours": "h",
    "report.note_pending": "{n} still running", "report.note_waived": "{n} waived", "report.no_rate": "nothing settled yet",
    "report.definition": "On time = met on time ÷ settled deadlines (met, met late, breached, and waived after a breach). "
                         "Deadlines still running and those waived before they were due are left out of the rate "
                         "and counted on their own.",
    "report.details": "Incidents", "report.incident_count": "{n} incidents", "report.no_incidents": "No incidents in this period.",
    "err.date": "Enter a valid date, like 2026-11-28.", "err.date_range": "Dates lie between 2000 and 2100.",
    "err.period": "The start cannot be after the end.",
    "error.title": "Something is wrong", "error.forbidden": "Your role may not do this.",
    "error.not_found": "No such page or record.", "error.other_department": "This incident belongs to another department.",
    "error.back": "Back to the board", "error.form": "Please correct the fields marked below.",
    "err.required": "Required.", "err.too_long": "At most {max} characters.", "err.choice": "Choose a valid option.",
    "err.code": "A letter, then letters, digits, - or _; at most 32.", "err.time": "Enter a valid date and time.",
    "err.email": "Not a valid email address.", "err.invalid": "Not valid.",
    "err.characters_in": "The form field {field} contains a character that cannot be stored (such as NUL); "
                         "remove it and send the form again.",
    "extend.title": "Extend a deadline", "extend.submit": "Extend", "field.working_days": "Working days to add",
    "extend.hint": "Once only, by at most {max} working days; the new deadline is the end of the last of them.",
    "extend.done": "Extended by {days} working days", "saved.extended": "Deadline extended; its reminders are planned again.",
    "board.next_update": "Next update due", "incident.series": "Keep publishing",
    "field.kind": "Kind of matter", "field.duty": "Duty", "report.by_kind": "By kind of matter", "cd.day": "d",
    "new.severity_hint": "required for an emergency; optional for public opinion and disclosure requests (default IV)",
    "incident.calendar_incomplete": "beyond the holiday calendar's last year: counted on weekends alone; "
                                    "add that year's calendar",
    "col.district": "District", "field.district": "District", "field.district_default": "(unchanged / default)",
    "districts.link": "One deployment for several districts: manage districts", "districts.title": "Districts",
    "districts.new": "New district",
    "districts.hint": "Each district has its own departments and supervisory office; create users who see one "
                      "district only with sunclock user create --district.",
    "saved.district": "District saved.", "col.departments": "Departments",
    "standins.link": "Stand-ins", "standins.title": "Stand-ins", "standins.new": "Set a stand-in",
    "standins.hint": "While a contact is away, their messages go to the stand-in (they still get the email), "
                     "as of the time each is sent.",
    "standins.contact": "Contact away", "standins.standin": "Stand-in", "standins.standin_name": "Stand-in's name",
    "standins.from": "From", "standins.to": "To", "standins.reason": "Reason", "standins.none": "No stand-ins yet.",
    "saved.standin": "Stand-in set.", "standins.for": "{standin} (for {contact})", "report.all_districts": "All districts", "report.by_district": "By district",
}

CATALOGUE = {Language.ZH: ZH, Language.EN: EN}

Translator = Callable[..., str]


def translator(lang: str) -> Translator:
    table = CATALOGUE.get(lang, ZH)

    def t(key: str, **values: object) -> str:
        if key in catalogue.ZH:
            return catalogue.phrase(key, lang, **values)
        text = table.get(key) or ZH.get(key) or key
        return text.format(**values) if values else text

    return t
