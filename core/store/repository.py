"""Compatibility re-exports: the store's writes and reads now live in one module per aggregate.

users, datasets, generations, reviews, decisions, details (read models) and integrity (verify, anchor)."""
from __future__ import annotations

from core.store.audit import audit_events, audit_record
from core.store.common import SHA256_RE, check_int, check_sha256, get_row, iso
from core.store.datasets import dataset_record, holdout_record, register_dataset, register_holdout
from core.store.decisions import decision_record, evidence_document, evidence_sha256, record_decision
from core.store.details import (
    BUNDLE_FORMAT,
    REAL_RECORD_KEYS,
    GenerationDetail,
    export_evidence_bundle,
    generation_detail,
)
from core.store.generations import (
    GENERATION_STATES,
    MANIFEST_REQUIRED,
    OPEN_STATES,
    GenerationSummary,
    add_evaluation,
    current_round,
    evaluation_record,
    generation_state,
    generation_states,
    latest_evaluation,
    lineage,
    list_generations,
    parse_report,
    register_generation,
    validate_manifest,
)
from core.store.reviews import (
    NoteInput,
    review_record,
    save_draft,
    start_review,
    submit_new_review,
    submit_review,
    submitted_reviews,
)
from core.store.users import acting_user, get_user, set_user_role

__all__ = [
    "audit_events", "audit_record", "SHA256_RE", "check_int", "check_sha256", "get_row", "iso", "dataset_record",
    "holdout_record", "register_dataset", "register_holdout", "decision_record", "evidence_document",
    "evidence_sha256", "record_decision", "BUNDLE_FORMAT", "REAL_RECORD_KEYS", "GenerationDetail",
    "export_evidence_bundle", "generation_detail", "GENERATION_STATES", "MANIFEST_REQUIRED", "OPEN_STATES",
    "GenerationSummary", "add_evaluation", "current_round", "evaluation_record", "generation_state",
    "generation_states", "latest_evaluation", "lineage", "list_generations", "parse_report", "register_generation",
    "validate_manifest", "NoteInput", "review_record", "save_draft", "start_review", "submit_new_review",
    "submit_review", "submitted_reviews", "acting_user", "get_user", "set_user_role",
]
