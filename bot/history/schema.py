"""Declarative base and portable column types: UTC timestamps, JSON, string enums, FKs."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, Enum, ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

ENUM_LENGTH = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that stores UTC and always reads back an aware datetime.

    SQLite keeps no time zone, so values are normalised to UTC on the way in (which also
    keeps its text ordering chronological) and tagged as UTC on the way out. Naive
    datetimes are refused: they are a bug, not a guess to make.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: history timestamps must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _values(enum_cls: type[StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]


def string_enum(enum_cls: type[StrEnum], name: str, *, constrained: bool = True) -> Enum:
    """A VARCHAR holding the enum's values; with a named CHECK constraint unless open-ended."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=constrained,
        length=ENUM_LENGTH,
        values_callable=_values,
        validate_strings=True,
    )


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHA = String(64)  # room for SHA-256 object names


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON(),
    }


def fk_column(target: str, *, nullable: bool, ondelete: str, index: bool = False) -> Any:
    return mapped_column(ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


def created_column() -> Any:
    return mapped_column(default=utcnow)


def updated_column() -> Any:
    return mapped_column(default=utcnow, onupdate=utcnow)
