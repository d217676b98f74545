"""Dashboard: files above the policy's [engine] size open as seeded samples, scored out-of-core, and say so."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import three_way_split

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clear_caches():
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_large_files_open_out_of_core_with_a_sample_and_a_notice(penguins, tmp_path):
    from streamlit.testing.v1 import AppTest

    from core.engine.evaluate import evaluate_files
    from core.policy import DEFAULT_POLICY_TOML, parse_policy

    train, holdout, fresh = three_way_split(penguins, seed=3)
    paths = {}
    for role, frame in (("real", train), ("synthetic", fresh), ("holdout", holdout)):
        paths[role] = tmp_path / f"{role}.parquet"
        frame.to_parquet(paths[role], index=False)
    policy_text = DEFAULT_POLICY_TOML + "\n[engine]\ndefault_above_rows = 100\nplot_sample_rows = 150\n"

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    review = at.session_state["review"]
    from dataclasses import replace

    at.session_state["review"] = replace(review, policy_text=policy_text)
    at.text_input(key="data_files_real").input(str(paths["real"]))
    at.text_input(key="data_files_synthetic").input(str(paths["synthetic"]))
    at.text_input(key="data_files_holdout").input(str(paths["holdout"])).run()
    at.button(key="data_files_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    opened = at.session_state["review"]
    assert opened.notes["engine"]["rows"] == {"real": len(train), "synthetic": len(fresh), "holdout": len(holdout)}
    assert len(opened.tables["real"].frame) == 150  # the seeded sample the plots draw from
    assert any("out-of-core" in i.value and "seeded sample" in i.value for i in at.info)

    at.switch_page("pages/summary.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = evaluate_files({r: str(p) for r, p in paths.items()}, parse_policy(policy_text))
    caption = " ".join(c.value for c in at.caption)
    assert f"Column shapes {expected.fidelity.column_shapes_score:.3f}" in caption
    assert f"{len(train):,} real" in caption
    assert any("out-of-core" in i.value for i in at.info)
