"""The quoted numbers of the seed papers (quoted.toml) load, map onto our registry and match the papers."""

from optarena.optim import names
from optarena.report.quoted import load_quoted

EXPECTED = {  # the papers' numbers, as the report's brief and the papers state them
    "dms": {"Muon": 3.5369, "AdamW": 4.9266, "DMS (Ours)": 5.039},
    "stable-momentum": {
        "AdamW (baseline)": 4.927,
        "StableMomentum (ours)": 5.045,
        "Lion": 6.114,
        "Scaled VR Momentum": 5.261,
    },
    "svrm": {"AdamW": 4.927, "SVRM": 5.261},
    "grams": {"Adam": 49.83, "C-Adam": 43.21, "Lion": 50.25, "C-Lion": 53.21, "Grams": 38.60},
}


def test_final_tables_match_the_papers_and_our_registry():
    quoted = load_quoted()
    finals = {p["key"]: t for p in quoted.papers for t in p.get("tables", ()) if t["kind"] == "final"}
    assert {k: {r["name"]: r["value"] for r in t["rows"]} for k, t in finals.items()} == EXPECTED
    registry = set(names())
    for table in finals.values():
        assert table["baseline"] in {r["name"] for r in table["rows"]}
        assert table["metric"] in ("loss", "perplexity")
        assert {r["optimizer"] for r in table["rows"]} <= registry


def test_every_paper_has_a_source_and_setting():
    quoted = load_quoted()
    assert {p["key"] for p in quoted.papers} == {"dms", "stable-momentum", "svrm", "grams", "adana"}
    for paper in quoted.papers:
        assert paper["source"] and paper["setting"] and paper["title"]
        for table in paper.get("tables", ()):
            if table["kind"] == "table":
                assert all(len(row) == len(table["columns"]) for row in table["rows"])
    assert set(load_quoted().papers[-1]["claims_optimizers"]) <= set(names())
    assert "3.3406" in quoted.tuned_adamw["text"] and "4.927" in quoted.tuned_adamw["text"]
