"""Departments, roles and the permissions each role grants: the one place access is decided.

A role decides *actions*; a user's scope (districts, or one station) decides *rows*. Both are
checked on every request: an action outside the role is 403, a row outside the scope is
indistinguishable from a row that does not exist (404, or absent from a list).

Separation of duties (三员分立, MLPS level 3): three administrators whose powers do not
overlap. The *system administrator* runs the platform (registry, provisioning, rules, alert
subscriptions, department data) but manages no account and reads no audit log; the *security
administrator* manages accounts and API keys and nothing else; the *audit administrator*
reads and verifies the audit log and nothing else. Administrator accounts themselves are
made and changed only on the server (``fuelwatch cloud create-user``), never through the API,
so the security administrator cannot make itself (or anyone) an auditor or system admin.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ADMIN_ROLES",
    "DATASET_DEPARTMENTS",
    "ROLE_PERMISSIONS",
    "Department",
    "Permission",
    "Role",
    "permissions_of",
]


class Department(StrEnum):
    COMMERCE = "commerce"  # 商务
    TAX = "tax"  # 税务
    MARKET_REGULATION = "market_regulation"  # 市场监管
    PUBLIC_SECURITY = "public_security"  # 公安
    EMERGENCY = "emergency"  # 应急管理
    ENVIRONMENT = "environment"  # 生态环境
    PLATFORM_ADMIN = "platform_admin"  # 平台运维
    STATION = "station"  # 加油站 (station portal)


class Permission(StrEnum):
    REGISTRY_READ = "registry.read"
    REGISTRY_WRITE = "registry.write"
    GATEWAY_PROVISION = "gateway.provision"
    DEPARTMENT_READ = "department.read"
    DEPARTMENT_IMPORT = "department.import"
    WARNING_READ = "warning.read"
    WARNING_HANDLE = "warning.handle"  # acknowledge, assign, request rectification, close
    WARNING_ESCALATE = "warning.escalate"
    WARNING_RESPOND = "warning.respond"  # the station's answer to a rectification request
    WARNING_COMMENT = "warning.comment"
    WARNING_INTERNAL = "warning.internal"  # see and write comments the station does not see
    RULE_READ = "rule.read"
    RULE_WRITE = "rule.write"
    SUPERVISION_READ = "supervision.read"
    SENSITIVE_READ = "sensitive.read"  # unmasked names, phones, plates, payment references
    USER_MANAGE = "user.manage"
    AUDIT_READ = "audit.read"
    ALERT_MANAGE = "alert.manage"  # webhook subscriptions, deliveries, dead letters
    SYSTEM_MONITOR = "system.monitor"  # /metrics and the detail of /health


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"  # 系统管理员: runs the platform, no accounts, no audit
    SECURITY_ADMIN = "security_admin"  # 安全管理员: accounts and keys only
    AUDIT_ADMIN = "audit_admin"  # 审计管理员: the audit log only
    DEVICE_MANAGER = "device_manager"  # stations, gateways, devices, provisioning
    SUPERVISOR = "supervisor"  # department leader: handles and escalates, edits rules
    OFFICER = "officer"  # district officer: handles warnings, imports department data
    VIEWER = "viewer"  # read-only, sensitive fields masked
    IMPORTER = "importer"  # machine feed of a department: imports its data
    STATION = "station"  # station portal user
    MONITOR = "monitor"  # machine account of the monitoring system (Prometheus): metrics only


P = Permission
_READ = {P.REGISTRY_READ, P.DEPARTMENT_READ, P.WARNING_READ, P.RULE_READ, P.SUPERVISION_READ}

#: Made and changed only on the server console; scope: every district.
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SYSTEM_ADMIN: frozenset(Permission) - {P.USER_MANAGE, P.AUDIT_READ},
    Role.SECURITY_ADMIN: frozenset({P.USER_MANAGE}),
    Role.AUDIT_ADMIN: frozenset({P.AUDIT_READ}),
    Role.DEVICE_MANAGER: frozenset(
        {P.REGISTRY_READ, P.REGISTRY_WRITE, P.GATEWAY_PROVISION, P.SUPERVISION_READ}
    ),
    Role.SUPERVISOR: frozenset(
        _READ
        | {
            P.DEPARTMENT_IMPORT,
            P.WARNING_HANDLE,
            P.WARNING_ESCALATE,
            P.WARNING_COMMENT,
            P.WARNING_INTERNAL,
            P.RULE_WRITE,
            P.SENSITIVE_READ,
        }
    ),
    Role.OFFICER: frozenset(
        _READ
        | {
            P.DEPARTMENT_IMPORT,
            P.WARNING_HANDLE,
            P.WARNING_COMMENT,
            P.WARNING_INTERNAL,
            P.SENSITIVE_READ,
        }
    ),
    Role.VIEWER: frozenset(_READ),
    Role.MONITOR: frozenset({P.SYSTEM_MONITOR}),
    Role.IMPORTER: frozenset({P.REGISTRY_READ, P.DEPARTMENT_READ, P.DEPARTMENT_IMPORT}),
    Role.STATION: frozenset(
        {
            P.REGISTRY_READ,
            P.DEPARTMENT_READ,
            P.WARNING_READ,
            P.WARNING_RESPOND,
            P.WARNING_COMMENT,
            P.SUPERVISION_READ,
        }
    ),
}

#: Which departments feed which department dataset (platform admins may import any).
DATASET_DEPARTMENTS: dict[str, frozenset[Department]] = {
    "ewaybills": frozenset({Department.COMMERCE, Department.PUBLIC_SECURITY, Department.EMERGENCY}),
    "tax_declarations": frozenset({Department.TAX}),
    "licences": frozenset(
        {Department.COMMERCE, Department.EMERGENCY, Department.MARKET_REGULATION}
    ),
    "metrology": frozenset({Department.MARKET_REGULATION}),
    "inspections": frozenset(
        {
            Department.COMMERCE,
            Department.TAX,
            Department.MARKET_REGULATION,
            Department.PUBLIC_SECURITY,
            Department.EMERGENCY,
            Department.ENVIRONMENT,
        }
    ),
}


def permissions_of(role: Role | str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[Role(role)]
