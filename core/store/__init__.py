"""Persistence of the review desk: SQLAlchemy models, engine/session set-up, migrations, repository, audit chain."""
from core.store.audit import VerifyResult, append_event, canonical_json, sha256_json, sha256_text, verify_chain
from core.store.engine import (
    current_revision,
    database_url,
    dispose_engines,
    downgrade,
    get_engine,
    init_db,
    make_engine,
    read_session,
    session_factory,
    session_scope,
    sqlite_url,
    upgrade,
)
from core.store.errors import NotFoundError, StateError
from core.store.repository import (
    GenerationDetail,
    GenerationSummary,
    NoteInput,
    add_evaluation,
    audit_events,
    current_round,
    export_evidence_bundle,
    generation_detail,
    generation_state,
    get_user,
    latest_evaluation,
    list_generations,
    register_dataset,
    register_generation,
    register_holdout,
    save_draft,
    start_review,
    submit_new_review,
    submit_review,
    submitted_reviews,
)
from core.store.roles import AuthenticationError, PermissionDenied

__all__ = [
    "VerifyResult", "append_event", "canonical_json", "sha256_json", "sha256_text", "verify_chain",
    "current_revision", "database_url", "dispose_engines", "downgrade", "get_engine", "init_db", "make_engine",
    "read_session", "session_factory", "session_scope", "sqlite_url", "upgrade",
    "NotFoundError", "StateError",
    "GenerationDetail", "GenerationSummary", "NoteInput", "add_evaluation", "audit_events", "current_round",
    "export_evidence_bundle", "generation_detail", "generation_state", "get_user", "latest_evaluation",
    "list_generations", "register_dataset", "register_generation", "register_holdout", "save_draft", "start_review",
    "submit_new_review", "submit_review", "submitted_reviews",
    "AuthenticationError", "PermissionDenied",
]
