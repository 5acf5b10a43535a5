"""The console's words in Chinese (default) and English.

One table: a key and its two texts. Labels the domain already defines (warning categories)
come from their own tables, so a new category needs no entry here. A key missing here shows
as itself, and ``tests/console/test_templates.py`` fails on any template key not listed.
"""

from __future__ import annotations

from typing import Literal

from fuelwatch.cloud.common.categories import Category

__all__ = ["LANGS", "TEXT", "Lang", "label", "pick_lang", "translate"]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    # frame
    "app": ("加油站智慧监管平台", "Fuel station supervision"),
    "skip": ("跳到正文", "Skip to content"),
    "menu": ("菜单", "Menu"),
    "switch_lang": ("English", "中文"),
    "logout": ("退出", "Log out"),
    "login": ("登录", "Log in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误，或账户已锁定", "Wrong user name or password, or locked"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "error": ("出错了", "Something went wrong"),
    "not_found": ("找不到该页面，或您无权查看", "Not found, or not yours to see"),
    "forbidden": ("您的角色无权执行此操作", "Your role may not do this"),
    "back_home": ("返回首页", "Back to the start page"),
    "back": ("返回", "Back"),
    "influx_down": ("时序数据库暂不可用：", "Time-series database unavailable: "),
    # navigation
    "nav_stations": ("加油站", "Stations"),
    "nav_warnings": ("预警", "Warnings"),
    "nav_data": ("部门数据", "Department data"),
    "nav_reports": ("报表", "Reports"),
    "nav_wall": ("大屏", "Wall view"),
    "nav_gateways": ("网关", "Gateways"),
    "nav_provision": ("网关开通", "Provisioning"),
    "nav_my_station": ("本站", "My station"),
    "nav_my_warnings": ("本站预警", "My warnings"),
    # common words
    "filter": ("筛选", "Filter"),
    "all": ("全部", "All"),
    "district": ("区县", "District"),
    "station": ("加油站", "Station"),
    "name": ("名称", "Name"),
    "status": ("状态", "Status"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "last_seen": ("最近上报", "Last seen"),
    "never": ("从未", "never"),
    "open_warnings": ("未结预警", "Open warnings"),
    "licence": ("证照", "Licence"),
    "licence_ok": ("有效", "valid"),
    "licence_expiring": ("即将到期", "expiring"),
    "licence_bad": ("缺失/过期", "missing or expired"),
    "since": ("开始", "From"),
    "until": ("结束", "To"),
    "days": ("天数", "Days"),
    "show": ("查询", "Show"),
    "time": ("时间", "Time"),
    "tank": ("油罐", "Tank"),
    "product": ("油品", "Product"),
    "nozzle": ("油枪", "Nozzle"),
    "volume_l": ("升数 (L)", "Volume (L)"),
    "revenue": ("金额 (元)", "Revenue (CNY)"),
    "transactions": ("笔数", "Transactions"),
    "total": ("合计", "Total"),
    "none": ("无", "none"),
    "no_data": ("该时段没有数据", "No data in this period"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "download_xlsx": ("下载 XLSX", "Download XLSX"),
    "chart": ("图表", "Chart"),
    "table": ("数据表", "Table"),
    "save": ("提交", "Submit"),
    "note": ("说明", "Note"),
    "due": ("整改期限", "Due"),
    # stations
    "stations_title": ("加油站列表", "Stations"),
    "station_health": ("运行状况", "Health"),
    "tank_levels": ("油罐液位（升）", "Tank levels (L)"),
    "tanks": ("油罐", "Tanks"),
    "capacity": ("容量 (L)", "Capacity (L)"),
    "latest_volume": ("当前存量 (L)", "Current volume (L)"),
    "sales_by_day": ("按日按油品销量", "Sales by product and day"),
    "reconciliation": ("进销存对账（账面 vs 实测，20 °C）", "Book vs gauge (20 °C)"),
    "reconciliation_help": (
        (
            "每日实测减账面的差异；灰带为规则允许范围：计量器具和单据的法定误差，"
            "加液位仪标准误差的 z 倍"
        ),
        (
            "Daily gauged minus book variance; the grey band is the rule's allowance: the legal "
            "errors of meters and documents plus z standard errors of the gauge"
        ),
    ),
    "show_reconciliation": ("查看进销存对账", "Show the reconciliation"),
    "variance": ("差异 (L)", "Variance (L)"),
    "allowance": ("允许范围 (L)", "Allowance (L)"),
    "book": ("账面 (L)", "Book (L)"),
    "gauged": ("实测 (L)", "Gauged (L)"),
    "deliveries": ("进油与电子运单", "Deliveries and waybills"),
    "waybill": ("运单号", "Waybill"),
    "waybill_volume": ("运单升数", "Waybill volume"),
    "declared_volume": ("站报升数", "Declared by station"),
    "gauge_deliveries": ("液位仪检测到的进油", "Deliveries the gauge saw"),
    "rise": ("液位增量 (L)", "Rise (L)"),
    "difference": ("差额", "Difference"),
    "no_waybill": ("无运单", "no waybill"),
    "not_declared": ("未申报", "not declared"),
    "txn_table": ("加油交易与泵码", "Transactions and totalizers"),
    "order": ("订单", "Order"),
    "unit_price": ("单价", "Unit price"),
    "amount": ("金额", "Amount"),
    "totalizer_before": ("泵码起", "Totalizer before"),
    "totalizer_after": ("泵码止", "Totalizer after"),
    "first_rows": ("仅显示前 {n} 条", "Showing the first {n}"),
    "gateway_health": ("网关状况", "Gateway health"),
    "spool_backlog": ("缓存积压", "Spool backlog"),
    "dropped": ("丢弃", "Dropped"),
    "publish_errors": ("发布错误", "Publish errors"),
    # warnings
    "warnings_title": ("预警收件箱", "Warning inbox"),
    "category": ("类别", "Category"),
    "severity": ("级别", "Severity"),
    "state": ("处理状态", "State"),
    "title": ("标题", "Title"),
    "first_seen": ("首次发现", "First seen"),
    "occurrences": ("次数", "Occurrences"),
    "evidence": ("证据", "Evidence"),
    "comparison": ("判定", "Decision"),
    "measured": ("实测", "Measured"),
    "expected": ("期望", "Expected"),
    "threshold": ("阈值", "Threshold"),
    "values": ("数值", "Values"),
    "raw_records": ("原始记录", "Raw records"),
    "records_total": ("共 {n} 条", "{n} in all"),
    "copy": ("复制", "Copy"),
    "copied": ("已复制", "Copied"),
    "queries": ("查询语句（可复现）", "The exact queries"),
    "timeline": ("处理时间线", "Timeline"),
    "comments": ("评论", "Comments"),
    "internal": ("内部", "internal"),
    "attachments": ("附件", "Attachments"),
    "actions": ("处理", "Actions"),
    "rectification_request": ("整改要求", "Rectification request"),
    "act_acknowledge": ("确认收到", "Acknowledge"),
    "act_assign": ("指派", "Assign"),
    "act_request_rectification": ("要求整改", "Request rectification"),
    "act_respond": ("提交整改反馈", "Send the station's reply"),
    "act_escalate": ("上报", "Escalate"),
    "act_close": ("办结", "Close"),
    "act_comment": ("发表评论", "Comment"),
    "assignee": ("处理人", "Assignee"),
    "resolution": ("办结意见", "Resolution"),
    "files": ("附件（照片、单据）", "Files (photos, documents)"),
    "internal_comment": ("仅部门可见", "Departments only"),
    "done": ("已保存", "Saved"),
    "no_warnings": ("没有符合条件的预警", "No warnings match"),
    "page_of": ("第 {a}–{b} 条，共 {n} 条", "{a}–{b} of {n}"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    # department data
    "data_title": ("部门数据上报", "Department data"),
    "dataset": ("数据集", "Dataset"),
    "file": ("文件 (CSV/XLSX)", "File (CSV/XLSX)"),
    "preview": ("预览并校验", "Preview and check"),
    "templates": ("模板下载", "Templates"),
    "preview_title": ("预览：{f}", "Preview: {f}"),
    "rows": ("行数", "Rows"),
    "row": ("行", "Row"),
    "field": ("字段", "Field"),
    "message": ("问题", "Problem"),
    "errors_found": (
        "发现 {n} 处错误，未写入任何数据。请修改文件后重新上传。",
        "{n} errors found; nothing was written. Fix the file and upload it again.",
    ),
    "ready_to_commit": (
        "校验通过：将新增 {i} 条、更新 {u} 条。",
        "All rows are valid: {i} new, {u} updated.",
    ),
    "commit": ("确认导入", "Import"),
    "committed": ("已导入：新增 {i} 条，更新 {u} 条。", "Imported: {i} new, {u} updated."),
    "recent_imports": ("最近导入", "Recent imports"),
    "actor": ("操作人", "By"),
    "imp_committed": ("已导入", "imported"),
    "imp_rejected": ("已拒绝", "rejected"),
    "may_not_import": ("您的部门不报送此数据集", "Your department does not feed this dataset"),
    "ds_ewaybills": ("电子运单", "E-waybills"),
    "ds_tax_declarations": ("纳税申报", "Tax declarations"),
    "ds_licences": ("证照", "Licences"),
    "ds_metrology": ("计量检定", "Metrology"),
    "ds_inspections": ("检查记录", "Inspections"),
    # reports
    "reports_title": ("报表", "Reports"),
    "rep_sales": ("销量统计", "Sales"),
    "rep_prices": ("价格统计", "Prices"),
    "rep_tax": ("申报与实测对比", "Declared vs measured"),
    "group_by": ("分组", "Group by"),
    "period": ("周期", "Period"),
    "p_none": ("整段", "whole window"),
    "p_1d": ("按日", "by day"),
    "p_7d": ("按周", "by week"),
    "min": ("最低", "Min"),
    "max": ("最高", "Max"),
    "mean": ("平均", "Mean"),
    "last": ("最新", "Last"),
    "declaration": ("申报单号", "Declaration"),
    "declared_l": ("申报升数", "Declared (L)"),
    "measured_l": ("实测升数", "Measured (L)"),
    "declared_rev": ("申报金额", "Declared revenue"),
    "measured_rev": ("实测金额", "Measured revenue"),
    "deviation": ("少报比例 %", "Undeclared %"),
    # wall
    "wall_title": ("运行监测大屏", "Operations wall"),
    "stations_total": ("加油站", "Stations"),
    "stations_offline": ("离线站点", "Stations offline"),
    "today_sales": ("今日销量 (L)", "Sales today (L)"),
    "today_revenue": ("今日金额 (元)", "Revenue today (CNY)"),
    "latest_warnings": ("最新未结预警", "Latest open warnings"),
    "refreshes": ("每 {n} 秒自动刷新", "Refreshes every {n} s"),
    "updated_at": ("更新于", "Updated"),
    # devices
    "gateways_title": ("网关运行状况", "Gateways"),
    "gateway": ("网关", "Gateway"),
    "credential": ("接入凭证", "Credential"),
    "keys": ("签名密钥", "Signing keys"),
    "key_age": ("密钥启用", "Key since"),
    "revoked": ("已吊销", "revoked"),
    "version": ("版本", "Version"),
    "devices": ("设备", "Devices"),
    "provision_title": ("开通网关并下载配置包", "Provision a gateway and download its bundle"),
    "provision_help": (
        "为加油站生成签名密钥和 MQTT 账号，下载的 ZIP 包含 gateway.yaml 和密钥，仅此一次。",
        (
            "Makes the signing key and MQTT account; the ZIP holds gateway.yaml and the "
            "secrets, shown this once."
        ),
    ),
    "gateway_id": ("网关编号", "Gateway id"),
    "algorithm": ("签名算法", "Algorithm"),
    "mqtt_password": (
        "本站现有 MQTT 密码（已有网关时）",
        "Station's MQTT password (if it has one)",
    ),
    "rotate": ("为本站生成新 MQTT 密码", "Give the station a new MQTT password"),
    "description": ("备注", "Description"),
    "provision": ("开通并下载", "Provision and download"),
    # severities and states
    "sev_low": ("低", "low"),
    "sev_medium": ("中", "medium"),
    "sev_high": ("高", "high"),
    "sev_critical": ("严重", "critical"),
    "st_open": ("待处理", "open"),
    "st_acknowledged": ("已确认", "acknowledged"),
    "st_rectification_requested": ("待整改", "rectification requested"),
    "st_station_responded": ("站点已反馈", "station responded"),
    "st_escalated": ("已上报", "escalated"),
    "st_closed": ("已办结", "closed"),
    "ev_opened": ("预警产生", "opened"),
    "ev_acknowledge": ("确认", "acknowledged"),
    "ev_assign": ("指派", "assigned"),
    "ev_request_rectification": ("要求整改", "rectification requested"),
    "ev_respond": ("站点反馈", "station replied"),
    "ev_escalate": ("上报", "escalated"),
    "ev_close": ("办结", "closed"),
    "ev_cleared": ("规则不再触发", "cleared by its rule"),
    "ev_reoccurred": ("再次触发", "seen again"),
}


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"


def translate(lang: Lang, key: str, **values: object) -> str:
    pair = TEXT.get(key)
    text = key if pair is None else pair[0 if lang == "zh" else 1]
    return text.format(**values) if values else text


def label(lang: Lang, kind: str, code: str) -> str:
    """A code's label: ``category``, ``severity`` (sev_), ``state`` (st_), ``event`` (ev_)."""
    if kind == "category":
        try:
            c = Category(code)
        except ValueError:
            return code
        return c.label_zh if lang == "zh" else c.label_en
    prefix = {"severity": "sev_", "state": "st_", "event": "ev_", "dataset": "ds_"}[kind]
    key = prefix + code
    return translate(lang, key) if key in TEXT else code
