"""Initial store schema with immutability triggers.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-25

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

GENESIS_HASH = "0" * 64
# (table, condition on OLD row or None) -> UPDATE and DELETE refused; TRUNCATE too on PostgreSQL.
IMMUTABLE = {
    "audit_event": None,
    "decision": None,
    "dataset_version": None,
    "holdout": None,
    "generation": None,
    "evaluation": None,
    "review": "OLD.status = 'submitted'",
}
NOTE_OF_SUBMITTED = "(SELECT status FROM review WHERE id = {row}.review_id) = 'submitted'"


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _tables() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("password_hash", sa.String(400), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'reviewer', 'approver', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "dataset_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("schema_json", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.name"], name=op.f("fk_dataset_version_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_version")),
        sa.UniqueConstraint("name", "sha256", name=op.f("uq_dataset_version_name")),
    )
    op.create_index(op.f("ix_dataset_version_sha256"), "dataset_version", ["sha256"])
    op.create_table(
        "holdout",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("split_fraction", sa.Float(), nullable=False),
        sa.Column("stratify_column", sa.String(300), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.name"], name=op.f("fk_holdout_created_by_users")),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset_version.id"],
                                name=op.f("fk_holdout_dataset_id_dataset_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdout")),
    )
    op.create_index(op.f("ix_holdout_dataset_id"), "holdout", ["dataset_id"])
    op.create_table(
        "generation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("holdout_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("synthetic_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("real_rows_seen", sa.Integer(), nullable=False),
        sa.Column("synthetic_rows_seen", sa.Integer(), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.name"], name=op.f("fk_generation_created_by_users")),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset_version.id"],
                                name=op.f("fk_generation_dataset_id_dataset_version")),
        sa.ForeignKeyConstraint(["holdout_id"], ["holdout.id"], name=op.f("fk_generation_holdout_id_holdout")),
        sa.ForeignKeyConstraint(["parent_id"], ["generation.id"], name=op.f("fk_generation_parent_id_generation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation")),
    )
    op.create_index(op.f("ix_generation_dataset_id"), "generation", ["dataset_id"])
    op.create_index(op.f("ix_generation_synthetic_sha256"), "generation", ["synthetic_sha256"])
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("tool_version", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.name"], name=op.f("fk_evaluation_created_by_users")),
        sa.ForeignKeyConstraint(["generation_id"], ["generation.id"],
                                name=op.f("fk_evaluation_generation_id_generation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
    )
    op.create_index(op.f("ix_evaluation_generation_id"), "evaluation", ["generation_id"])
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("records_read", sa.Integer(), nullable=False),
        sa.Column("synthetic_sha256", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("submitted_at", _ts(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'submitted')", name=op.f("ck_review_status")),
        sa.CheckConstraint("records_read >= 0", name=op.f("ck_review_records_read")),
        sa.ForeignKeyConstraint(["generation_id"], ["generation.id"], name=op.f("fk_review_generation_id_generation")),
        sa.ForeignKeyConstraint(["reviewer"], ["users.name"], name=op.f("fk_review_reviewer_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("generation_id", "reviewer", "round", name=op.f("uq_review_generation_id")),
    )
    op.create_index(op.f("ix_review_generation_id"), "review", ["generation_id"])
    op.create_table(
        "record_note",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.String(200), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("flag", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("row_json", sa.Text(), nullable=True),
        sa.CheckConstraint("flag IN ('implausible', 'privacy_risk', 'format_error', 'other')",
                           name=op.f("ck_record_note_flag")),
        sa.CheckConstraint("source IN ('synthetic', 'real')", name=op.f("ck_record_note_source")),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], name=op.f("fk_record_note_review_id_review")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_note")),
    )
    op.create_index(op.f("ix_record_note_review_id"), "record_note", ["review_id"])
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("waivers_json", sa.JSON(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("review_ids_json", sa.JSON(), nullable=False),
        sa.Column("synthetic_sha256", sa.String(64), nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("policy_toml", sa.Text(), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('approved', 'changes_requested', 'rejected', 'revoked')",
                           name=op.f("ck_decision_kind")),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluation.id"],
                                name=op.f("fk_decision_evaluation_id_evaluation")),
        sa.ForeignKeyConstraint(["generation_id"], ["generation.id"],
                                name=op.f("fk_decision_generation_id_generation")),
        sa.ForeignKeyConstraint(["signer"], ["users.name"], name=op.f("fk_decision_signer_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    op.create_index(op.f("ix_decision_generation_id"), "decision", ["generation_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(50), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=True),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_event_hash")),
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])
    op.create_index(op.f("ix_audit_event_generation_id"), "audit_event", ["generation_id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_event_id": 0, "last_hash": GENESIS_HASH}])


def _sqlite_triggers() -> None:
    for table, condition in IMMUTABLE.items():
        when = f" WHEN {condition}" if condition else ""
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} FOR EACH ROW{when} "
                f"BEGIN SELECT RAISE(ABORT, 'immutable: {op_name} on {table} refused'); END"
            )
    for op_name, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER record_note_no_{op_name.lower()} BEFORE {op_name} ON record_note FOR EACH ROW "
            f"WHEN {NOTE_OF_SUBMITTED.format(row=row)} "
            f"BEGIN SELECT RAISE(ABORT, 'immutable: {op_name} on record_note of a submitted review refused'); END"
        )


def _postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION review_desk_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'immutable: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION review_desk_refuse_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE rid integer;
        BEGIN
            IF TG_OP = 'INSERT' THEN rid := NEW.review_id; ELSE rid := OLD.review_id; END IF;
            IF (SELECT status FROM review WHERE id = rid) = 'submitted' THEN
                RAISE EXCEPTION 'immutable: % on record_note of a submitted review refused', TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """
    )
    for table, condition in IMMUTABLE.items():
        when = f" WHEN ({condition})" if condition else ""
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW{when} EXECUTE FUNCTION review_desk_refuse_change()"
        )
        if not condition:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION review_desk_refuse_change()"
            )
    op.execute(
        "CREATE TRIGGER record_note_immutable BEFORE INSERT OR UPDATE OR DELETE ON record_note "
        "FOR EACH ROW EXECUTE FUNCTION review_desk_refuse_note_change()"
    )


def upgrade() -> None:
    """Create every table, the chain head row and the triggers that refuse edits of reviewed artifacts."""
    _tables()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    """Drop everything (only sensible on an empty or throw-away store)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION review_desk_refuse_change() CASCADE")
        op.execute("DROP FUNCTION review_desk_refuse_note_change() CASCADE")
    for table in ("audit_head", "audit_event", "decision", "record_note", "review", "evaluation",
                  "generation", "holdout", "dataset_version", "users"):
        op.drop_table(table)
