"""Sign-off views: register the generation under review, its recorded detail, the review submission of the
Records page, the approver's checklist and decision, the history with its audit chain, and the exports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from components.analysis_cache import evaluation_with_results
from components.state import Review, get_review, record_flags, records_read
from components.changes_views import changes_view
from components.relations_views import reviewed_synthetic_sha256
from components.store_access import (
    current_generation_id,
    current_user,
    remember_generation,
    store_engine,
    write_permission,
)
from components.widgets import gate_details, plain, sha256_column, short_digest, short_time, text_frame
from core.review import signoff
from core.errors import InputError, ReviewError
from core.review.export import evidence_report_html, export_bundle, report_for_viewer
from core.review.records import save_review_work
from core.gates import gate_label
from core.policy import Policy, parse_policy
from core.store import (
    audit_events,
    generation_detail,
    list_generations,
    read_session,
    session_scope,
    verify_chain,
)
from core.store.models import Review as StoredReview

PAGE_GENERATION = "pages/generation.py"
PAGE_SIGNOFF = "pages/signoff.py"
PAGE_SIGNIN = "pages/signin.py"
STATE_COLOURS = {"draft": "gray", "in_review": "blue", "approved": "green", "rejected": "red",
                 "changes_requested": "orange", "revoked": "violet"}
TEN_RULES = signoff.TEN_RULES  # one home: core.review.signoff
COMMENT_CLEAR_KEY = "_signoff_clear_comment"
DECISIONS = {"approve": "Approve", "request changes": "Request changes", "reject": "Reject", "revoke": "Revoke"}


# ----------------------------------------------------------------------------------------------- small helpers


def state_badge(state: str) -> None:
    """The generation's state as a coloured badge."""
    st.badge(state.replace("_", " "), color=STATE_COLOURS.get(state, "gray"))


def review_policy(review: Review) -> Policy:
    """The policy of the review under way (its TOML text over the defaults)."""
    return parse_policy(review.policy_text, "review policy")


def pick_generation(review: Review, key: str) -> int | None:
    """A selectbox over the stored generations (the one registered for the table under review first)."""
    with read_session(store_engine()) as session:
        summaries = list_generations(session)
    if not summaries:
        return None
    current = current_generation_id(reviewed_synthetic_sha256(review))
    labels = {s.id: f"#{s.id} · {s.method} · {s.dataset_name} · by {s.created_by}"
              + (" · under review here" if s.id == current else "") for s in summaries}
    ids = list(labels)
    index = ids.index(current) if current in ids else 0
    return st.selectbox("Generation", ids, index=index, format_func=labels.get, key=key)


def _gates_frame(gates: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"gate": gate_label(g), "result": "pass" if g.get("passed") else "FAIL",
                          "value": g.get("value"), "threshold": g.get("threshold"), "detail": g.get("detail", "")}
                         for g in gates])


# ----------------------------------------------------------------------------------------------- register


def _default_manifest(review: Review) -> dict[str, Any] | None:
    manifest = review.notes.get("manifest")
    if not manifest:
        return None
    manifest = dict(manifest)
    if "holdout" not in manifest and review.notes.get("split"):
        manifest["holdout"] = review.notes["split"]
    return manifest


def _upload_manifest(review: Review) -> dict[str, Any]:
    """Form fields for an uploaded synthetic table's manifest (inside the register form)."""
    st.markdown("**How was this synthetic table made?** Uploaded files carry no manifest; document it here.")
    c1, c2, c3 = st.columns(3)
    method = c1.text_input("Method", placeholder="e.g. GaussianCopulaSynthesizer", key="gen_upload_method")
    seed = int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="gen_upload_seed"))
    real_rows = int(c3.number_input("Training mix: real rows", min_value=0, value=review.tables["real"].rows,
                                    key="gen_upload_real_rows"))
    synthetic_rows = int(c3.number_input("Training mix: synthetic rows (from earlier generations)", min_value=0,
                                         value=0, key="gen_upload_synthetic_rows"))
    parameters = c1.text_area("Parameters (JSON object)", value="{}", key="gen_upload_parameters")
    versions = c2.text_area("Library versions (JSON object)", value='{"sdv": ""}', key="gen_upload_versions")
    return {"method": method, "seed": seed, "parameters_text": parameters, "versions_text": versions,
            "training_mix": {"real_rows": real_rows, "synthetic_rows": synthetic_rows}}


def _json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise InputError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    return value


def register_panel(review: Review) -> int | None:
    """'Register this generation for review': dataset, holdout, manifest and the current evaluation report."""
    from components.cache import evaluation
    from components.relations_views import relational_review

    rel = relational_review()
    if rel is not None:
        return relational_register_panel(rel, review)
    sha = review.tables["synthetic"].sha256
    registered = current_generation_id(sha)
    if registered is not None:
        st.success(f"The synthetic table under review (sha256 {sha[:12]}...) is registered as generation "
                   f"#{registered}.", icon=":material/inventory:")
        return registered
    st.subheader("Register this generation for review")
    st.caption("Records the real training table, the locked holdout, the generation manifest and the current "
               "evaluation report in the store, with file hashes; reviewers and approvers then work on it.")
    allowed, reason = write_permission("reviewer")
    with read_session(store_engine()) as session:
        parents = list_generations(session)
    manifest = _default_manifest(review) if review.source != "upload" else None
    with st.form("gen_register_form", border=True):
        c1, c2 = st.columns(2)
        default_name = "census-income-demo" if review.source == "demo" else Path(review.tables["real"].path).name
        dataset_name = c1.text_input("Dataset name", value=default_name, key="gen_register_dataset")
        parent_options = [None] + [p.id for p in parents]
        parent = c2.selectbox("Parent generation (trained on an earlier generation's output)", parent_options,
                              format_func=lambda i: "(none: trained on real data)" if i is None else f"#{i}",
                              key="gen_register_parent")
        upload = _manifest_inputs(review, manifest)
        clicked = st.form_submit_button("Register this generation for review", type="primary", disabled=not allowed,
                                        key="gen_register", help=reason or None)
    if not allowed:
        st.caption(reason)
    if not clicked:
        return None
    try:
        if manifest is None:
            manifest = _manifest_from_upload(upload, "the synthetic table")
            if review.notes.get("split"):
                manifest["holdout"] = review.notes["split"]
        manifest = dict(manifest, parent_generation_id=parent, registered_from=review.source)
        # The report as the Summary shows it: with privacy and utility when they were run this session.
        report = evaluation_with_results(review, evaluation(review)).to_dict()
        with session_scope(store_engine()) as session:
            generation_id = signoff.register_reviewed_generation(
                session, real=review.tables["real"], synthetic=review.tables["synthetic"],
                holdout=review.tables.get("holdout"), manifest=manifest, created_by=current_user()["name"],
                report=report, dataset_name=dataset_name.strip() or default_name)
    except ReviewError as exc:
        st.error(f"Not registered: {plain(exc)}")
        return None
    remember_generation(generation_id, sha)
    st.rerun()


def _manifest_inputs(review: Review, manifest: dict | None) -> dict | None:
    """Inside a register form: the known manifest shown as recorded (None returned), else the fields to type one."""
    if manifest is None:
        return _upload_manifest(review)
    with st.expander("Generation manifest to record", expanded=False):
        st.json(manifest)
    return None


def _manifest_from_upload(upload: dict, made: str) -> dict:
    """The generation manifest typed into the register form (`_upload_manifest`); the method is required."""
    if not upload["method"].strip():
        raise InputError(f"give the method that made {made}")
    return {"method": upload["method"].strip(), "seed": upload["seed"],
            "parameters": _json_object(upload["parameters_text"], "parameters"),
            "library_versions": _json_object(upload["versions_text"], "library versions"),
            "training_mix": upload["training_mix"]}


def relational_register_panel(rel, review: Review) -> int | None:
    """'Register this relational generation': every table's file hash per side (their combined sha256 is the
    generation's), the relational checks' report (from the Relations page) and the generation manifest."""
    from components.relations_views import RELATIONAL_RUN_KEY, relational_job, table_records
    from core.review.signoff import relational_manifest

    records = table_records(rel)
    sha = records["synthetic"].sha256
    registered = current_generation_id(sha)
    if registered is not None:
        st.success(f"The {len(rel.metadata.tables)} synthetic tables under review (combined sha256 {sha[:12]}...) "
                   f"are registered as generation #{registered}.", icon=":material/inventory:")
        return registered
    st.subheader("Register this relational generation for review")
    st.caption(f"Records the {len(rel.metadata.tables)} real training tables, the holdout and the synthetic "
               "tables with every table file's sha256 (a side's combined sha256 is what `python -m core gate "
               "--synthetic folder/` recomputes), the generation manifest and the relational checks' report.")
    seed, privacy = st.session_state.get(RELATIONAL_RUN_KEY, (0, False))
    job = relational_job(rel, review.policy_text, seed, privacy)
    if job is None or job.state != "done":
        st.info("Run the relational checks on the Relations page first: their report (every table's gates and "
                "the relational gates) is what the generation is registered with.", icon=":material/schema:")
        st.page_link("pages/relations.py", label="Relations: run the relational checks", icon=":material/schema:")
        return None
    allowed, reason = write_permission("reviewer")
    manifest = dict(rel.notes["manifest"]) if rel.notes.get("manifest") else None
    with st.form("gen_register_relational_form", border=True):
        dataset_name = st.text_input("Dataset name", value="nycflights13-relational-demo"
                                     if rel.source == "relational demo" else "relational tables",
                                     key="gen_register_rel_dataset")
        upload = _manifest_inputs(review, manifest)
        st.dataframe(pd.DataFrame([{"side": side, "table": table, "file sha256": digest}
                                   for side, record in records.items()
                                   for table, digest in sorted((record.file_sha256 or {}).items())]),
                     hide_index=True, width="stretch", key="gen_register_rel_hashes",
                     column_config={"file sha256": sha256_column("file sha256")})
        clicked = st.form_submit_button("Register this relational generation", type="primary", disabled=not allowed,
                                        key="gen_register_relational", help=reason or None)
    if not allowed:
        st.caption(reason)
    if not clicked:
        return None
    try:
        if manifest is None:
            manifest = _manifest_from_upload(upload, "the synthetic tables")
        manifest = dict(relational_manifest(manifest, records, rel.metadata), registered_from=rel.source)
        report = job.value.to_json()
        with session_scope(store_engine()) as session:
            generation_id = signoff.register_reviewed_generation(
                session, real=records["real"], synthetic=records["synthetic"], holdout=records.get("holdout"),
                manifest=manifest, created_by=current_user()["name"], report=report,
                dataset_name=dataset_name.strip() or "relational tables")
    except ReviewError as exc:
        st.error(f"Not registered: {plain(exc)}")
        return None
    remember_generation(generation_id, sha)
    st.rerun()


# ----------------------------------------------------------------------------------------------- detail


def generation_detail_view(generation_id: int) -> None:
    """Manifest, evaluation summary, notes of submitted reviews, state, decisions, lineage and audit events."""
    with read_session(store_engine()) as session:
        detail = generation_detail(session, generation_id)
        events = audit_events(session, generation_id=generation_id)
        ancestors = [generation_detail(session, g).summary for g in detail.lineage]
    s = detail.summary
    head = st.columns([3, 1, 1, 1])
    with head[0]:
        st.subheader(f"Generation #{s.id}: {s.method}")
        state_badge(s.state)
    head[1].metric("Rows", f"{s.rows:,}")
    head[2].metric("Review round", str(detail.round))
    head[3].metric("Created by", s.created_by)
    st.caption(f"Dataset {plain(s.dataset_name)} (#{s.dataset_id}) · synthetic sha256 {s.synthetic_sha256} · "
               f"manifest sha256 {detail.manifest_sha256} · registered {short_time(s.created_at)} UTC")
    tabs = st.tabs(["Evaluation", "Records and notes", "Decisions", "Manifest", "Lineage", "Audit events",
                    "Changes since approval"])
    with tabs[0]:
        if not detail.evaluations:
            st.info("No evaluation recorded.")
        else:
            latest = detail.evaluations[-1]
            viewer = current_user()
            report, redacted = report_for_viewer(latest["report"], viewer["role"] if viewer else None)
            verdict = report.get("verdict")
            if verdict == "pass":
                st.badge("PASS: every gate passed", icon=":material/check_circle:", color="green")
            else:
                st.badge("FAIL: at least one gate failed", icon=":material/cancel:", color="red")
            st.caption(f"Evaluation #{latest['id']} · report sha256 {latest['sha256']} · tool {latest['tool_version']}"
                       f" · {len(detail.evaluations)} evaluation(s) recorded")
            st.dataframe(_gates_frame(report.get("gates", [])), hide_index=True, width="stretch",
                         key="gen_gates")
            gate_details([(str(g.get("name")), str(g.get("detail", ""))) for g in report.get("gates", [])],
                         key="gen_gates")
            if redacted:
                st.caption(f"Real values are redacted in {redacted} field(s): sign in as a reviewer to see them.")
    with tabs[1]:
        reviews = [r for r in detail.reviews if r["status"] == "submitted"]
        drafts = len(detail.reviews) - len(reviews)
        st.caption(f"{len(reviews)} submitted review(s)" + (f", {drafts} draft(s) not counted" if drafts else ""))
        if reviews:
            st.dataframe(pd.DataFrame([{"review": r["id"], "reviewer": r["reviewer"], "round": r["round"],
                                        "records read": r["records_read"], "notes": len(r["notes"]),
                                        "submitted (UTC)": short_time(r["submitted_at"]), "comment": r["comment"]}
                                       for r in reviews]),
                         hide_index=True, width="stretch", key="gen_reviews")
            notes = [{"reviewer": r["reviewer"], "synthetic row": n["row_id"], "flag": n["flag"], "note": n["note"],
                      "row hash": n["row_hash"], "record": json.dumps(n["row"], ensure_ascii=False) if n["row"] and
                      n["source"] == "synthetic" else ("(real record, not shown)" if n["row"] else "")}
                     for r in reviews for n in r["notes"]]
            if notes:
                st.markdown("**Flagged records**")
                st.dataframe(pd.DataFrame(notes), hide_index=True, width="stretch", key="gen_notes",
                             column_config={"record": st.column_config.TextColumn("record", width="large")})
    with tabs[2]:
        if not detail.decisions:
            st.info("No decision yet.")
        else:
            st.dataframe(pd.DataFrame([{"decision": d["kind"], "signer": d["signer"], "at (UTC)": short_time(d["at"]),
                                        "round": d["round"], "comment": d["comment"],
                                        "waivers": "; ".join(f"{w['gate']}: {w['reason']}" for w in d["waivers"]),
                                        "evidence sha256": d["evidence_sha256"]} for d in detail.decisions]),
                         hide_index=True, width="stretch", key="gen_decisions",
                         column_config={"evidence sha256": sha256_column("evidence sha256")})
    with tabs[3]:
        st.json(detail.manifest, expanded=2)
    with tabs[4]:
        if not ancestors:
            st.caption("No parent: trained on real data only.")
        chain = [s] + ancestors
        st.dataframe(pd.DataFrame([{"generation": f"#{a.id}", "method": a.method, "state": a.state,
                                    "dataset": a.dataset_name, "created by": a.created_by,
                                    "synthetic sha256": a.synthetic_sha256} for a in chain]),
                     hide_index=True, width="stretch", key="gen_lineage",
                     column_config={"synthetic sha256": sha256_column("synthetic sha256")})
    with tabs[5]:
        audit_table(events, key="gen_audit")
    with tabs[6]:
        changes_view(generation_id, key="gen_changes")


def audit_frame(events: list[dict]) -> pd.DataFrame:
    """Audit events as a table that fits the page: times to the second (UTC), the hash shortened, and the
    payload's start last (a row's details show the whole event: audit_details)."""
    return pd.DataFrame([{"event": e["id"], "at (UTC)": short_time(e["at"]), "actor": e["actor"], "action": e["action"],
                          "entity": f"{e['entity']} {e['entity_id']}",
                          "generation": "" if e["generation_id"] is None else f"#{e['generation_id']}",
                          "hash": short_digest(e["hash"]),
                          "payload": json.dumps(e["payload"], ensure_ascii=False)[:300]}
                         for e in events], columns=["event", "at (UTC)", "actor", "action", "entity", "generation",
                                                    "hash", "payload"])


def selected_row(selection: Any) -> int | None:
    """The position of the row selected in an st.dataframe with single-row selection, or None."""
    rows = getattr(getattr(selection, "selection", None), "rows", None) or []
    return int(rows[0]) if rows else None


# Fixed widths for the columns whose text varies (a wide action such as decision.changes_requested pushed an
# auto-sized table past 1,440 px); longer text ends in an ellipsis and a selected row shows it whole.
AUDIT_COLUMNS = {"actor": st.column_config.TextColumn("actor", width=100),
                 "action": st.column_config.TextColumn("action", width=200),
                 "entity": st.column_config.TextColumn("entity", width=120),
                 "payload": st.column_config.TextColumn("payload", width=120)}


def audit_table(events: list[dict], key: str, height: int | str = "auto") -> None:
    """The audit events as a table; selecting a row shows that event whole (time, hashes, payload)."""
    # The payload's start takes the width left at 1,440 px: the table never scrolls sideways.
    chosen = selected_row(st.dataframe(audit_frame(events), hide_index=True, width="stretch", key=key,
                                       height=height, on_select="rerun", selection_mode="single-row",
                                       column_config=AUDIT_COLUMNS))
    if chosen is None:
        st.caption("Select a row to see its event whole: the full hashes and payload.")
        return
    event = events[chosen]
    with st.container(border=True, key=f"{key}_details"):
        st.markdown(f"**Event {event['id']}**: {plain(event['action'])} by {plain(event['actor'])} at "
                    f"{plain(short_time(event['at']))} UTC")
        st.caption("Hash (sha256, covering the previous event's hash)")
        st.code(event["hash"], language=None)
        if event.get("prev_hash"):
            st.caption("Previous event's hash")
            st.code(event["prev_hash"], language=None)
        st.json(event["payload"], expanded=True)


def export_panel(generation_id: int) -> None:
    """Download the JSON evidence bundle and the self-contained HTML report (real records only if ticked)."""
    st.subheader("Export")
    user = current_user()
    allowed, reason = write_permission("reviewer")
    if not allowed:
        st.info(f"Exports show the generation's evidence: {reason}", icon=":material/lock:")
        return
    may_include, why_not = write_permission("approver")
    include = st.checkbox("Include real records (rows of the real data, and the real values quoted in gate details; "
                          "an audited export)", value=False, key="gen_export_real", disabled=not may_include,
                          help=why_not or None)
    include = include and may_include
    # What is left out is what export_bundle redacts; the report's charts are shares of rows by category.
    st.caption("The export " + ("**includes** real records; the download is recorded in the audit log as yours."
                                if include else "**excludes** real records (it says so, and counts what it left out). "
                                "The HTML report's charts still name the real data's categories with their shares "
                                "of rows; no real row is included."))

    def bundle() -> dict:
        with session_scope(store_engine()) as session:
            return export_bundle(session, generation_id, actor=user["name"], include_real_records=include)

    suffix = "with-real-records" if include else "no-real-records"
    c1, c2 = st.columns(2)
    c1.download_button("Download evidence bundle (JSON)", data=lambda: json.dumps(bundle(), indent=2, default=str),
                       file_name=f"generation-{generation_id}-evidence-{suffix}.json", mime="application/json",
                       key="gen_export_json", on_click="ignore", icon=":material/data_object:")
    # This session's evaluation, if already scored (never computed here), lends its tables to the report's
    # distribution charts when they are the stored evaluation's tables (core.review.html_report decides).
    from components.cache import _stores, evaluation

    review = get_review()
    scored = (evaluation_with_results(review, evaluation(review))
              if review.evaluation_key() in _stores()["evaluation"] else None)
    c2.download_button("Download report (HTML, opens offline)", data=lambda: evidence_report_html(bundle(), scored),
                       file_name=f"generation-{generation_id}-report-{suffix}.html", mime="text/html",
                       key="gen_export_html", on_click="ignore", icon=":material/description:")


# ----------------------------------------------------------------------------------------------- review submission


def review_submission_panel(review: Review, synthetic: pd.DataFrame) -> None:
    """Records page: save the session's records read and flags as a draft review, or submit it."""
    st.subheader("Save or submit your review")
    user = current_user()
    if user is None:
        st.info("Sign in to save your review (records read and flags) for the generation under review.")
        st.page_link(PAGE_SIGNIN, label="Sign in", icon=":material/login:")
        return
    sha = review.tables["synthetic"].sha256  # flags belong to this table; the generation may hold several
    generation_id = current_generation_id(reviewed_synthetic_sha256(review))
    if generation_id is None:
        st.info("This synthetic table is not registered yet: register it on the Generation page, then save your "
                "review here.")
        st.page_link(PAGE_GENERATION, label="Register it on the Generation page", icon=":material/inventory:")
        return
    flags, read = record_flags(), records_read()  # this user's work only (components.state)
    flagged = {p: f for p, f in flags.items() if f.get("synthetic_sha256", sha) == sha}
    rows = text_frame(synthetic.iloc[sorted(flagged)]) if flagged else None
    shown = {p: rows.loc[synthetic.index[p]].to_dict() for p in flagged} if flagged else {}
    minimum = review_policy(review).min_records_read
    with read_session(store_engine()) as session:
        mine = session.query(StoredReview).filter_by(generation_id=generation_id, reviewer=user["name"]) \
            .order_by(StoredReview.id.desc()).first()
        status = None if mine is None else (mine.status, mine.round, mine.records_read)
    st.caption(f"Generation #{generation_id}. You have read {len(read)} record(s) and flagged {len(flagged)}; the "
               f"policy asks for at least {minimum} records read (over all submitted reviews) before approval."
               + (f" Your review of round {status[1]} is {status[0]} ({status[2]} records read)." if status else ""))
    allowed, reason = write_permission("reviewer")
    comment = st.text_area("Review comment", key="records_review_comment",
                           placeholder="what you read, what you found")
    b1, b2, _ = st.columns([1, 1, 3])
    save = b1.button("Save review (draft)", key="records_review_save", disabled=not allowed, width="stretch",
                     help=reason or None)
    submit = b2.button("Submit review", key="records_review_submit", type="primary", disabled=not allowed,
                       width="stretch", help=reason or "Submitted reviews are final.")
    if not allowed:
        st.caption(reason)
    done = st.session_state.pop("_review_saved", None)
    if done:
        st.success(done, icon=":material/task_alt:")
    if save or submit:
        try:
            with session_scope(store_engine()) as session:
                stored = save_review_work(session, generation_id, user["name"], read_positions=read, flags=flagged,
                                          rows=shown, comment=comment, submit=submit)
                message = (f"Review #{stored.id} {'submitted' if submit else 'saved as a draft'}: "
                           f"{stored.records_read} records read, {len(flagged)} note(s).")
        except ReviewError as exc:
            st.error(f"Not saved: {plain(exc)}")
            return
        st.session_state["_review_saved"] = message
        st.rerun()


# ----------------------------------------------------------------------------------------------- sign-off


def _rule_hints(report: dict) -> dict[int, str]:
    hints = {}
    hints[2] = ("the evaluation has a utility section" if report.get("utility") else
                "no utility section in the recorded evaluation")
    hints[5] = ("the evaluation has a privacy section" if report.get("privacy") else
                "no privacy section in the recorded evaluation")
    return hints


def signoff_panel(generation_id: int, review: Review) -> None:
    """Checklist, decision, comment, waivers and the Sign button for one generation."""
    user = current_user()
    policy = review_policy(review)
    sha = reviewed_synthetic_sha256(review)
    with read_session(store_engine()) as session:
        detail = generation_detail(session, generation_id)
        gates = signoff.generation_gates(session, generation_id, policy)  # the report's, plus lineage
    state = detail.summary.state
    report = detail.evaluations[-1]["report"] if detail.evaluations else {}
    failed = [gate_label(g) for g in gates if not g.get("passed")]

    top = st.columns([3, 1])
    with top[0]:
        st.subheader(f"Generation #{generation_id}: {detail.summary.method}")
        state_badge(state)
    top[1].metric("Created by", detail.summary.created_by)
    with st.expander("What changed since the last approval", expanded=True):
        changes_view(generation_id, key="signoff_changes")
    done = st.session_state.pop("_signoff_done", None)
    if done:
        st.success(f"Signed: {done['kind'].replace('_', ' ')} (decision #{done['id']}). Frozen evidence sha256: "
                   f"{done['evidence']}", icon=":material/verified:")
        st.code(done["evidence"], language=None)

    waivers = []
    if state not in ("draft", "in_review", "changes_requested"):
        if detail.decisions:
            last = detail.decisions[-1]
            st.info(f"Decided: {last['kind'].replace('_', ' ')} by {last['signer']} at {short_time(last['at'])} UTC; "
                    f"evidence sha256 {last['evidence_sha256']}.", icon=":material/gavel:")
        failed = []
    if failed:
        st.markdown("**Waivers for failed gates**")
        if not policy.allow_waivers:
            st.caption("The policy allows no waivers: a failed gate blocks approval.")
        else:
            st.caption("A failed gate can be waived with a reason; the waiver is part of the signed evidence.")
            for gate in failed:
                reason_text = st.text_input(f"Waive '{gate}': reason", key=f"signoff_waiver_{gate}",
                                            placeholder="leave empty to not waive")
                if reason_text.strip():
                    waivers.append({"gate": gate, "reason": reason_text.strip()})

    if state not in ("draft", "in_review", "changes_requested"):
        _final_or_revoke(generation_id, state, user, policy)
        return
    st.markdown("**Checklist**")
    signer = user["name"] if user else detail.summary.created_by
    with read_session(store_engine()) as session:
        checks = signoff.approval_checklist(session, generation_id, signer, waivers, sha, policy)
    checks = [c for c in checks if c.rule != "attestation"]  # the ten rules are ticked below
    if user is None:
        checks = [c for c in checks if c.rule not in ("role", "four_eyes")]
        st.caption("Sign in to see the rules that depend on who signs (role, four eyes).")
    for check in checks:
        icon = ":material/check_circle:" if check.passed else ":material/cancel:"
        colour = "green" if check.passed else "red"
        st.markdown(f":{colour}[{icon} **{_rule_label(check)}**] {plain(check.message)}")
    if gates:
        st.dataframe(_gates_frame(gates), hide_index=True, width="stretch", key="signoff_gates")
        gate_details([(str(g.get("name")), str(g.get("detail", ""))) for g in gates], key="signoff_gates")

    st.markdown("**The ten rules** (the approver confirms each one)")
    hints = _rule_hints(report)
    ticked = []
    # One rule a line across the page: in two columns the long rules (2, 5, 7) were cut off.
    for i, text in enumerate(TEN_RULES, start=1):
        label = f"{i}. {text}" + (f" ({hints[i]})" if i in hints else "")
        ticked.append(st.checkbox(label, key=f"signoff_rule_{i}", width="stretch"))

    _decide(generation_id, state, user, policy, sha, waivers, ticked)


def _final_or_revoke(generation_id: int, state: str, user: dict | None, policy: Policy) -> None:
    if state in ("rejected", "revoked"):
        st.info(f"Generation #{generation_id} is {state}: that decision is final.")
        return
    _decide(generation_id, state, user, policy, "", [], [True] * len(TEN_RULES))


def _rule_label(check) -> str:
    """A checklist rule's name as shown: a passed gate rule says whether the gates passed or were waived."""
    if check.rule == "gate_failed" and check.passed:
        return "gate waived" if "waived" in check.message else "gates passed"
    return check.rule


def _decide(generation_id: int, state: str, user: dict | None, policy: Policy, sha: str, waivers: list,
            ticked: list[bool]) -> None:
    st.markdown("**Decision**")
    options = ["revoke"] if state == "approved" else ["approve", "request changes", "reject"]
    if st.session_state.pop(COMMENT_CLEAR_KEY, False):  # a signed decision's comment is not the next one's
        for key in [k for k in st.session_state if str(k).startswith("signoff_comment")]:
            del st.session_state[key]
    kind = st.radio("Decision", options, format_func=DECISIONS.get, horizontal=True, key="signoff_decision")
    # One box a decision kind: after approving, Revoke opens on an empty box, not the approval's comment.
    comment = st.text_area("Comment", key=f"signoff_comment_{kind.replace(' ', '_')}",
                           placeholder="why (required to reject, request changes or revoke)")
    allowed, reason = write_permission("approver")
    attested = [i for i, tick in enumerate(ticked, start=1) if tick]
    attestation = signoff.attestation_check(attested)
    if allowed and kind == "approve" and not attestation.passed:
        allowed, reason = False, f"Tick all ten rules to approve ({attestation.message})."
    clicked = st.button("Sign", type="primary", key="signoff_sign", disabled=not allowed, help=reason or None,
                        icon=":material/draw:")
    if not allowed:
        st.caption(reason)
    refusal = st.session_state.pop("_signoff_refused", None)
    if refusal:
        st.error(refusal, icon=":material/block:")
    if not clicked:
        return
    text = comment.strip()
    try:
        with session_scope(store_engine()) as session:
            if kind == "approve":
                decision = signoff.approve(session, generation_id, user["name"], text, waivers, sha, policy,
                                           attested_rules=attested)
            elif kind == "reject":
                decision = signoff.reject(session, generation_id, user["name"], text, policy)
            elif kind == "request changes":
                decision = signoff.request_changes(session, generation_id, user["name"], text, policy)
            else:
                decision = signoff.revoke(session, generation_id, user["name"], text, policy)
            done = {"kind": decision.kind, "id": decision.id, "evidence": decision.evidence_sha256}
    except signoff.SignoffRefused as exc:
        lines = [f"Refused by rule '{exc.rule}': {exc.message}"]
        lines += [f"Also: rule '{c.rule}': {c.message}" for c in exc.refusals[1:]]
        st.session_state["_signoff_refused"] = "  \n".join(plain(x) for x in lines)
        st.rerun()
    except ReviewError as exc:
        st.session_state["_signoff_refused"] = f"Not signed: {plain(exc)}"
        st.rerun()
    st.session_state["_signoff_done"] = done
    st.session_state[COMMENT_CLEAR_KEY] = True
    st.rerun()


# ----------------------------------------------------------------------------------------------- history


def history_view() -> None:
    """Every generation with its state (filterable by dataset), the audit log and chain verification."""
    with read_session(store_engine()) as session:
        summaries = list_generations(session)
        events = audit_events(session)
    datasets = sorted({s.dataset_name for s in summaries})
    c1, c2 = st.columns(2)
    chosen = c1.selectbox("Dataset", ["(all)"] + datasets, key="history_dataset")
    states = c2.multiselect("State", ["draft", "in_review", "approved", "rejected", "changes_requested", "revoked"],
                            key="history_states")
    shown = [s for s in summaries if (chosen == "(all)" or s.dataset_name == chosen)
             and (not states or s.state in states)]
    st.subheader(f"Generations ({len(shown)} of {len(summaries)})")
    # Fits 1,440 px: the time to the minute and the digest shortened; selecting a row shows them whole.
    chosen = selected_row(st.dataframe(
        pd.DataFrame([{"#": f"#{s.id}", "state": s.state, "dataset": s.dataset_name, "method": s.method,
                       "seed": s.seed, "rows": s.rows, "parent": f"#{s.parent_id}" if s.parent_id else "",
                       "created by": s.created_by, "created (UTC)": short_time(s.created_at, seconds=False),
                       "synthetic sha256": short_digest(s.synthetic_sha256)} for s in shown],
                     columns=["#", "state", "dataset", "method", "seed", "rows", "parent", "created by",
                              "created (UTC)", "synthetic sha256"]),
        hide_index=True, width="stretch", key="history_generations", on_select="rerun",
        selection_mode="single-row"))
    if chosen is None:
        st.caption("Select a row to see the generation's full sha256.")
    else:
        picked = shown[chosen]
        with st.container(border=True, key="history_generation_details"):
            st.markdown(f"**Generation #{picked.id}** ({plain(picked.state)}): {plain(picked.method)}, seed "
                        f"{picked.seed}, {picked.rows:,} rows of {plain(picked.dataset_name)}, created by "
                        f"{plain(picked.created_by)} at {plain(short_time(picked.created_at))} UTC")
            st.caption("Synthetic table sha256")
            st.code(picked.synthetic_sha256, language=None)
    st.subheader(f"Audit log ({len(events)} events)")
    st.caption("Append-only: each event's hash covers the previous event's hash, so changing, removing or "
               "reordering any event breaks the chain from there on.")
    if st.button("Verify chain", key="history_verify", icon=":material/link:"):
        with read_session(store_engine()) as session:
            result = verify_chain(session)
        if result.ok:
            st.success(f"Chain OK: {result.reason}.", icon=":material/verified:")
        else:
            st.error(f"Chain broken at event {result.first_bad_event_id}: {plain(result.reason)}")
    audit_table(events[::-1], key="history_audit", height=420)
