"""ORM models of the review desk store: datasets, holdouts, generations, evaluations, reviews, decisions, audit."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("viewer", "reviewer", "approver", "admin")
REVIEW_STATUSES = ("draft", "submitted")
NOTE_FLAGS = ("implausible", "privacy_risk", "format_error", "other")
NOTE_SOURCES = ("synthetic", "real")
DECISION_KINDS = ("approved", "changes_requested", "rejected", "revoked")
GENESIS_HASH = "0" * 64

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (migrations depend on the names)."""

    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A local account; password_hash is an argon2 encoded hash (salt inside), None for OIDC-only accounts."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[Optional[str]] = mapped_column(String(320), unique=True)
    password_hash: Mapped[Optional[str]] = mapped_column(String(400))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DatasetVersion(Base):
    """One version of a real source table, identified by its content hash."""

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("name", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    schema_json: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.name"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Holdout(Base):
    """A holdout split of a dataset version: which rows were kept out of training, reproducibly."""

    __tablename__ = "holdout"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    split_fraction: Mapped[float] = mapped_column(Float)
    stratify_column: Mapped[Optional[str]] = mapped_column(String(300))
    rows: Mapped[Optional[int]] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.name"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Generation(Base):
    """A synthetic table and the generator run that made it, documented by its manifest (immutable)."""

    __tablename__ = "generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id"), index=True)
    holdout_id: Mapped[Optional[int]] = mapped_column(ForeignKey("holdout.id"))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("generation.id"))
    method: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer)
    synthetic_sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    real_rows_seen: Mapped[int] = mapped_column(Integer)
    synthetic_rows_seen: Mapped[int] = mapped_column(Integer)
    manifest_json: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.name"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dataset: Mapped[DatasetVersion] = relationship()
    holdout: Mapped[Optional[Holdout]] = relationship()


class Evaluation(Base):
    """A frozen evaluation report of a generation: the exact JSON text and its hash."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generation.id"), index=True)
    report_json: Mapped[str] = mapped_column(Text)
    report_sha256: Mapped[str] = mapped_column(String(64))
    tool_version: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.name"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Review(Base):
    """One reviewer's reading of sampled rows of a generation in one round; immutable once submitted."""

    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint(_in("status", REVIEW_STATUSES), name="status"),
        CheckConstraint("records_read >= 0", name="records_read"),
        UniqueConstraint("generation_id", "reviewer", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generation.id"), index=True)
    reviewer: Mapped[str] = mapped_column(ForeignKey("users.name"))
    round: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    synthetic_sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    notes: Mapped[list["RecordNote"]] = relationship(
        order_by="RecordNote.id", back_populates="review", passive_deletes="all"
    )


class RecordNote(Base):
    """A reviewer's flag on one sampled row; row_json (optional) holds the row as shown."""

    __tablename__ = "record_note"
    __table_args__ = (
        CheckConstraint(_in("flag", NOTE_FLAGS), name="flag"),
        CheckConstraint(_in("source", NOTE_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    row_id: Mapped[str] = mapped_column(String(200))
    row_hash: Mapped[str] = mapped_column(String(64))
    flag: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="synthetic")
    row_json: Mapped[Optional[str]] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="notes")


class Decision(Base):
    """A sign-off decision on a generation with the evidence it rests on (insert-only)."""

    __tablename__ = "decision"
    __table_args__ = (CheckConstraint(_in("kind", DECISION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    signer: Mapped[str] = mapped_column(ForeignKey("users.name"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")
    waivers_json: Mapped[list] = mapped_column(JSON)
    evaluation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("evaluation.id"))
    review_ids_json: Mapped[list] = mapped_column(JSON)
    synthetic_sha256: Mapped[str] = mapped_column(String(64))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    policy_toml: Mapped[str] = mapped_column(Text)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer)
    # Ed25519 signature of the decision's canonical record by the server key (core.store.signing).
    signature: Mapped[Optional[str]] = mapped_column(String(128))


class AuditEvent(Base):
    """One link of the append-only hash chain: hash = sha256(prev_hash + canonical JSON of the event)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    generation_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    payload_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Ed25519 signature of the hash by the server key (core.store.signing); NULL only on a pre-0002 store.
    signature: Mapped[Optional[str]] = mapped_column(String(128))


class AuditHead(Base):
    """Single row (id=1) naming the last audit event; locked to serialize chain appends."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
