"""Account tables: users, their districts, API keys and refresh-token sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = ["ApiKey", "PasswordHistory", "RefreshToken", "User", "UserDistrict"]


class User(Base):
    """A person (or, without a password, a machine account that logs in with API keys).

    Scope: ``station_id`` set means a station portal user who sees only that station;
    otherwise ``all_districts`` or the listed ``districts``.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    full_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    department: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str | None] = mapped_column(
        ForeignKey("stations.id"), nullable=True, index=True
    )
    all_districts: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    district_links: Mapped[list[UserDistrict]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def districts(self) -> list[str]:
        return sorted(link.district_id for link in self.district_links)


class UserDistrict(Base):
    __tablename__ = "user_districts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    district_id: Mapped[str] = mapped_column(ForeignKey("districts.id"), primary_key=True)


class ApiKey(Base):
    """A machine client's key: ``fwk_<key_id>_<secret>``; only the secret's SHA-256 is kept.

    The secret is 32 random bytes, so a fast hash is enough (no password to guess).
    """

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    user: Mapped[User] = relationship()


class RefreshToken(Base):
    """One refresh token (by its JWT id). Each refresh spends it and issues the next one;
    presenting a spent token again revokes the whole family (a stolen token was used)."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PasswordHistory(Base):
    """A user's earlier password hashes: a new password may not repeat the last few."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
