"""Persistence of the review desk: models, engine/sessions, migrations, one module per aggregate (users, datasets,
generations, reviews, decisions), read models (details), the signed audit chain and its verification (integrity)."""
from core.store.audit import (
    VerifyResult,
    append_event,
    audit_events,
    canonical_json,
    sha256_json,
    sha256_text,
    verify_chain,
)
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
from core.store.errors import NotFoundError, StateError, StoreError
from core.store.datasets import register_dataset, register_holdout
from core.store.details import GenerationDetail, export_evidence_bundle, generation_detail
from core.store.generations import (
    GenerationSummary,
    add_evaluation,
    current_round,
    generation_state,
    generation_states,
    latest_evaluation,
    list_generations,
    register_generation,
)
from core.store.integrity import Anchor, StoreCheck, chain_anchor, parse_anchor, verify_store
from core.store.reviews import (
    NoteInput,
    save_draft,
    start_review,
    submit_new_review,
    submit_review,
    submitted_reviews,
)
from core.store.signing import signing_key_path
from core.store.users import get_user, set_user_role
from core.store.roles import AuthenticationError, PermissionDenied

__all__ = [
    "VerifyResult", "append_event", "canonical_json", "sha256_json", "sha256_text", "verify_chain",
    "current_revision", "database_url", "dispose_engines", "downgrade", "get_engine", "init_db", "make_engine",
    "read_session", "session_factory", "session_scope", "sqlite_url", "upgrade",
    "NotFoundError", "StateError", "StoreError",
    "Anchor", "StoreCheck", "chain_anchor", "parse_anchor", "verify_store", "signing_key_path", "set_user_role",
    "generation_states",
    "GenerationDetail", "GenerationSummary", "NoteInput", "add_evaluation", "audit_events", "current_round",
    "export_evidence_bundle", "generation_detail", "generation_state", "get_user", "latest_evaluation",
    "list_generations", "register_dataset", "register_generation", "register_holdout", "save_draft", "start_review",
    "submit_new_review", "submit_review", "submitted_reviews",
    "AuthenticationError", "PermissionDenied",
]
