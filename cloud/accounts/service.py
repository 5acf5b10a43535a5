"""Users, passwords, tokens and API keys: everything about logging in, with no HTTP.

Passwords are hashed with argon2id and must fit the policy of ``passwords.py``.
``lockout_threshold`` failed logins in a row lock the account for ``lockout_minutes``; while
locked, even the right password is refused. Each attempt *reserves* its try with one atomic
``UPDATE ... SET failed_logins = failed_logins + 1`` before the password is checked, so
concurrent guesses cannot check more than ``lockout_threshold`` passwords per lock.

Access tokens are short-lived HS256 JWTs; refresh tokens are JWTs too, but each is recorded
and can be spent once: refreshing returns a new pair, and a spent refresh token presented
again revokes its whole family (someone replayed a stolen token). Spending is one atomic
``UPDATE ... WHERE used_at IS NULL``, so concurrent refreshes with one token yield one pair.
A family (a login session, claim ``sid`` of its access tokens) with any revoked token is
dead: its refresh tokens and its access tokens are refused from then on (logout, replay,
password change).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts import passwords
from fuelwatch.cloud.accounts.roles import ADMIN_ROLES, Department, Role
from fuelwatch.cloud.common.settings import ApiSettings
from fuelwatch.cloud.store.models.accounts import (
    ApiKey,
    PasswordHistory,
    RefreshToken,
    User,
    UserDistrict,
)
from fuelwatch.cloud.store.models.registry import District, Station
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "AccountError",
    "AuthError",
    "TokenPair",
    "authenticate",
    "authenticate_api_key",
    "create_api_key",
    "create_user",
    "decode_access_token",
    "hash_password",
    "issue_tokens",
    "refresh_tokens",
    "revoke_refresh_family",
    "set_password",
]

ALGORITHM = "HS256"
API_KEY_PREFIX = "fwk_"
_DUMMY_HASH = passwords.hash_password(secrets.token_urlsafe(16))  # equal work when refused
#: One answer for every refused login - wrong password, unknown name, locked, disabled - so
#: the answer does not tell whether a user name exists (the audit log keeps the reason).
LOGIN_REFUSED = "incorrect user name or password, or the account is locked for a while"


class AccountError(ValueError):
    """A user or key that cannot be created as asked."""


class AuthError(Exception):
    """Credentials refused. ``reason`` is for the audit log; users see one message."""

    def __init__(self, reason: str, message: str = LOGIN_REFUSED) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid


def hash_password(password: str, *, username: str, previous: tuple[str, ...] = ()) -> str:
    """Hash a password that fits the policy, else ``AccountError`` naming the rule."""
    try:
        passwords.check_policy(password, username=username, previous=previous)
    except passwords.PolicyError as exc:
        raise AccountError(str(exc)) from exc
    return passwords.hash_password(password)


def create_user(
    session: Session,
    *,
    username: str,
    department: Department | str,
    role: Role | str,
    password: str | None = None,
    districts: list[str] | None = None,
    all_districts: bool = False,
    station: str | None = None,
    full_name: str = "",
    phone: str = "",
) -> User:
    """Create a user; ``password=None`` makes a machine account that only uses API keys."""
    department, role = Department(department), Role(role)
    districts = sorted(set(districts or []))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username} exists")
    if (role is Role.STATION) != (department is Department.STATION) or (role is Role.STATION) != (
        station is not None
    ):
        raise AccountError("station users have department 'station', role 'station' and a station")
    if station is not None and (districts or all_districts):
        raise AccountError("a station user's scope is its station; give no districts")
    if station is not None and session.get(Station, station) is None:
        raise AccountError(f"station {station} is not registered")
    if role in ADMIN_ROLES and department is not Department.PLATFORM_ADMIN:
        raise AccountError("administrators belong to the platform_admin department")
    for district in districts:
        if session.get(District, district) is None:
            raise AccountError(f"district {district} is not registered")
    user = User(
        username=username,
        password_hash=hash_password(password, username=username) if password is not None else None,
        password_changed_at=utcnow() if password is not None else None,
        full_name=full_name,
        phone=phone,
        department=department.value,
        role=role.value,
        station_id=station,
        all_districts=all_districts or role in ADMIN_ROLES,
        disabled=False,
        failed_logins=0,
        created_at=utcnow(),
        district_links=[UserDistrict(district_id=d) for d in districts],
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set a new password (policy and history checked); every session of the user ends."""
    earlier = tuple(
        session.scalars(
            select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.id.desc())
            .limit(passwords.HISTORY)
        )
    )
    current = (user.password_hash,) if user.password_hash else ()
    hashed = hash_password(password, username=user.username, previous=current + earlier)
    if user.password_hash:
        session.add(
            PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=utcnow())
        )
    user.password_hash = hashed
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _reserve_attempt(session: Session, username: str) -> tuple[int, str, int] | None:
    """Count this attempt *before* the password is checked: (user id, hash, new count).

    One atomic UPDATE, committed at once so that concurrent attempts (other threads, other
    workers) see it; None when the account is locked, disabled, has no password or is unknown.
    """
    now = utcnow()
    row = session.execute(
        update(User)
        .where(
            User.username == username,
            User.password_hash.is_not(None),
            User.disabled.is_(False),
            (User.locked_until.is_(None)) | (User.locked_until <= now),
        )
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.id, User.password_hash, User.failed_logins)
    ).one_or_none()
    session.commit()
    return None if row is None or row[1] is None else (row[0], row[1], row[2])


def _refusal(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return "unknown_user"
    if user.disabled:
        return "disabled"
    return "no_password" if user.password_hash is None else "locked"


def authenticate(session: Session, username: str, password: str, settings: ApiSettings) -> User:
    """Check a password; count failures and lock the account after too many.

    Commits: the attempt is counted (and the lock set) whatever the outcome. Every refusal
    costs one argon2 verification, so timing tells no more than the message.
    """
    reserved = _reserve_attempt(session, username)
    if reserved is None or reserved[2] > settings.lockout_threshold:
        passwords.verify(_DUMMY_HASH, password)
        raise AuthError(_refusal(session, username) if reserved is None else "locked")
    user_id, hashed, count = reserved
    if not passwords.verify(hashed, password):
        if count >= settings.lockout_threshold:
            session.execute(
                update(User)
                .where(User.id == user_id)
                .values(
                    locked_until=utcnow() + timedelta(minutes=settings.lockout_minutes),
                    failed_logins=0,
                )
            )
            session.commit()
            raise AuthError("locked_now")
        raise AuthError("bad_password")
    session.execute(
        update(User).where(User.id == user_id).values(failed_logins=0, locked_until=None)
    )
    session.commit()
    user = session.get(User, user_id, populate_existing=True)
    if user is None:  # it was there a moment ago; users are disabled, never deleted
        raise AuthError("unknown_user")
    if passwords.needs_rehash(hashed):
        user.password_hash = passwords.hash_password(password)
    return user


# -- tokens ----------------------------------------------------------------------------------


def _encode(claims: dict[str, Any], settings: ApiSettings) -> str:
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def issue_tokens(
    session: Session, user: User, settings: ApiSettings, *, family: str | None = None
) -> TokenPair:
    now = utcnow()
    access_exp = now + timedelta(minutes=settings.access_token_minutes)
    refresh_exp = now + timedelta(hours=settings.refresh_token_hours)
    jti, family = uuid.uuid4().hex, family or uuid.uuid4().hex
    session.add(
        RefreshToken(jti=jti, user_id=user.id, family=family, issued_at=now, expires_at=refresh_exp)
    )
    access = _encode(
        {
            "sub": str(user.id),
            "name": user.username,
            "typ": "access",
            "sid": family,
            "iat": now,
            "exp": access_exp,
            "jti": uuid.uuid4().hex,
        },
        settings,
    )
    refresh = _encode(
        {"sub": str(user.id), "typ": "refresh", "iat": now, "exp": refresh_exp, "jti": jti},
        settings,
    )
    return TokenPair(access, refresh, int((access_exp - now).total_seconds()))


def _decode(token: str, settings: ApiSettings, typ: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "typ", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("expired", "token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid_token", "invalid token") from exc
    if claims.get("typ") != typ:
        raise AuthError("wrong_token_type", "invalid token")
    return claims


def decode_access_token(session: Session, token: str, settings: ApiSettings) -> User:
    claims = _decode(token, settings, "access")
    user = session.get(User, int(claims["sub"]))
    if user is None or user.disabled:
        raise AuthError("unknown_user", "invalid token")
    issued = datetime.fromtimestamp(int(claims.get("iat", 0)), tz=utcnow().tzinfo)
    changed = user.password_changed_at
    if changed is not None and issued < changed.replace(microsecond=0):
        raise AuthError("password_changed", "token expired")  # sessions end on password change
    sid = claims.get("sid")
    if not isinstance(sid, str) or family_revoked(session, sid):
        raise AuthError("session_ended", "token expired")  # logout or replay ended the session
    return user


def family_revoked(session: Session, family: str) -> bool:
    """Has any token of this login session been revoked (logout, replay, password change)?"""
    return bool(
        session.scalar(
            select(
                exists().where(RefreshToken.family == family, RefreshToken.revoked_at.is_not(None))
            )
        )
    )


def refresh_tokens(session: Session, token: str, settings: ApiSettings) -> tuple[User, TokenPair]:
    claims = _decode(token, settings, "refresh")
    # Spend it first, in one atomic UPDATE: of any number of concurrent refreshes with one
    # token exactly one gets the row; the others see it spent and count as a replay.
    spent = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == str(claims["jti"]),
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(RefreshToken.family, RefreshToken.user_id)
    ).one_or_none()
    if spent is None:
        row = session.get(RefreshToken, str(claims["jti"]))
        if row is None:
            raise AuthError("revoked_refresh", "invalid token")
        reason = "refresh_reuse" if row.revoked_at is None else "revoked_refresh"
        revoke_refresh_family(session, row.family)  # (this updates ``row`` too)
        raise AuthError(reason, "invalid token")
    family, user_id = spent[0], spent[1]
    if family_revoked(session, family):
        revoke_refresh_family(session, family)  # a fork of a dead session dies with it
        raise AuthError("revoked_refresh", "invalid token")
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise AuthError("unknown_user", "invalid token")
    return user, issue_tokens(session, user, settings, family=family)


def revoke_refresh_family(session: Session, family: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# -- API keys --------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session, user: User, *, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key for ``user``; the returned plain key is shown once and never stored."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id,
        user_id=user.id,
        name=name,
        secret_sha256=_digest(secret),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{API_KEY_PREFIX}{key_id}_{secret}"


def authenticate_api_key(session: Session, presented: str) -> tuple[User, ApiKey]:
    if not presented.startswith(API_KEY_PREFIX) or presented.count("_") < 2:
        raise AuthError("bad_api_key", "invalid API key")
    key_id, secret = presented[len(API_KEY_PREFIX) :].split("_", 1)
    key = session.get(ApiKey, key_id)
    if key is None or not hmac.compare_digest(key.secret_sha256, _digest(secret)):
        raise AuthError("bad_api_key", "invalid API key")
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise AuthError("api_key_revoked", "invalid API key")
    user = key.user
    if user.disabled:
        raise AuthError("disabled", "invalid API key")
    key.last_used_at = now
    return user, key
