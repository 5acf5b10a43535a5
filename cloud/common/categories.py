"""Warning categories from the two plans, with their Chinese and English labels.

The first six are the Binhai plan's risk monitors; the last seven the software-collection
system's warning types. Rules name one of these codes; the API shows the labels.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LABELS", "Category", "Severity"]


class Category(StrEnum):
    TAX_CONTROL = "tax_control"
    INVENTORY_RECONCILIATION = "inventory_reconciliation"
    TOTALIZER_TAMPERING = "totalizer_tampering"
    INSPECTION_RISK = "inspection_risk"
    UNREGISTERED_DELIVERY = "unregistered_delivery"
    FALSE_CAPACITY = "false_capacity"
    DISPENSER = "dispenser"
    BUSINESS_SYSTEM = "business_system"
    BUSINESS_LINK = "business_link"
    CLOUD_DATA = "cloud_data"
    BUSINESS_DATA = "business_data"
    DECLARATION_DEVIATION = "declaration_deviation"
    ORDER_IMBALANCE = "order_imbalance"

    @property
    def label_zh(self) -> str:
        return LABELS[self][0]

    @property
    def label_en(self) -> str:
        return LABELS[self][1]


LABELS: dict[Category, tuple[str, str]] = {
    Category.TAX_CONTROL: ("控税监测", "Tax control monitoring"),
    Category.INVENTORY_RECONCILIATION: (
        "进销存闭环校验",
        "Purchase-sales-inventory reconciliation",
    ),
    Category.TOTALIZER_TAMPERING: ("泵码篡改", "Totalizer tampering"),
    Category.INSPECTION_RISK: ("巡检风险", "Inspection risk"),
    Category.UNREGISTERED_DELIVERY: ("私自收油", "Unregistered fuel delivery"),
    Category.FALSE_CAPACITY: ("虚报罐容", "Falsely declared tank capacity"),
    Category.DISPENSER: ("加油机预警", "Dispenser warning"),
    Category.BUSINESS_SYSTEM: ("经营系统异常", "Business system anomaly"),
    Category.BUSINESS_LINK: ("经营链路异常", "Business data link anomaly"),
    Category.CLOUD_DATA: ("云化数据预警", "Cloud data warning"),
    Category.BUSINESS_DATA: ("经营数据异常", "Business data anomaly"),
    Category.DECLARATION_DEVIATION: ("申报偏差异常", "Declaration deviation"),
    Category.ORDER_IMBALANCE: ("订单数不平衡", "Order count imbalance"),
}


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
