"""Users, passwords, tokens and API keys: everything about logging in, with no HTTP.

Passwords are hashed with argon2id. ``lockout_threshold`` failed logins in a row lock the
account for ``lockout_minutes``; while locked, even the right password is refused. Access
tokens are short-lived HS256 JWTs; refresh tokens are JWTs too, but each is recorded and can
be spent once: refreshing returns a new pair, and a spent refresh token presented again
revokes its whole family (someone replayed a stolen token).
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
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.accounts.models import ApiKey, RefreshToken, User, UserDistrict
from cloud.accounts.roles import Department, Role
from cloud.registry.models import District, Station, utcnow
from cloud.settings import ApiSettings

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
MIN_PASSWORD = 10
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))  # equal work for unknown user names


class AccountError(ValueError):
    """A user or key that cannot be created as asked."""


class AuthError(Exception):
    """Credentials refused. ``reason`` is for the audit log; users see one message."""

    def __init__(self, reason: str, message: str = "incorrect user name or password") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must have at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


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
    if role is Role.ADMIN and department is not Department.PLATFORM_ADMIN:
        raise AccountError("admins belong to the platform_admin department")
    for district in districts:
        if session.get(District, district) is None:
            raise AccountError(f"district {district} is not registered")
    user = User(
        username=username,
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=utcnow() if password is not None else None,
        full_name=full_name,
        phone=phone,
        department=department.value,
        role=role.value,
        station_id=station,
        all_districts=all_districts or role is Role.ADMIN,
        disabled=False,
        failed_logins=0,
        created_at=utcnow(),
        district_links=[UserDistrict(district_id=d) for d in districts],
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def authenticate(session: Session, username: str, password: str, settings: ApiSettings) -> User:
    """Check a password; count failures and lock the account after too many."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        _verify(_DUMMY_HASH, password)
        raise AuthError("unknown_user" if user is None else "no_password")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise AuthError("locked", "too many failed logins: the account is locked for a while")
    if user.disabled:
        _verify(_DUMMY_HASH, password)
        raise AuthError("disabled")
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_threshold:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            raise AuthError("locked_now")
        raise AuthError("bad_password")
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


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
    return user


def refresh_tokens(session: Session, token: str, settings: ApiSettings) -> tuple[User, TokenPair]:
    claims = _decode(token, settings, "refresh")
    row = session.get(RefreshToken, claims["jti"])
    if row is None or row.revoked_at is not None:
        raise AuthError("revoked_refresh", "invalid token")
    if row.used_at is not None:
        revoke_refresh_family(session, row.family)
        raise AuthError("refresh_reuse", "invalid token")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise AuthError("unknown_user", "invalid token")
    row.used_at = utcnow()
    return user, issue_tokens(session, user, settings, family=row.family)


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
