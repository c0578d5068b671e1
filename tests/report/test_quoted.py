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


def test_every_quoted_entry_renders():
    """Each paper's setting, source, claims and every cell of its tables reach the Markdown and the HTML."""
    from optarena.report.document import to_html, to_markdown
    from optarena.report.quoted import quoted_blocks

    blocks = quoted_blocks([], [], with_data=False, baseline="adam")
    md, page = to_markdown(blocks), to_html(blocks, title="t")
    quoted = load_quoted()
    for paper in quoted.papers:
        assert paper["title"] in md and paper["source"] in md and paper["setting"] in md
        assert all(claim in md for claim in paper.get("claims", ()))
        for table in paper.get("tables", ()):
            assert f"*Quoted. {table['caption']}*" in md
            if table["kind"] == "final":
                cells = [c for r in table["rows"] for c in (r["name"], f"{r['value']:g}")]
            else:
                cells = list(table["columns"]) + [c for row in table["rows"] for c in row]
            for cell in cells:
                assert f"| {cell} |" in md, (paper["key"], cell)
    assert quoted.tuned_adamw["text"].split("\n")[0] in md
    num_tables = sum(len(paper.get("tables", ())) for paper in quoted.papers)
    assert md.count("\n|---|") == page.count("<table>") == num_tables and md.count("### ") == len(quoted.papers)


def test_quotes_cite_the_papers_not_local_files():
    for paper in load_quoted().papers:
        assert "shared/" not in paper["source"] and "seeds/" not in paper["source"]
    assert "shared/" not in load_quoted().tuned_adamw["source"]


def test_the_new_quotes_are_as_printed():
    papers = {p["key"]: p for p in load_quoted().papers}
    dms_settings = next(t for t in papers["dms"]["tables"] if t["caption"].startswith("Table 1"))
    assert dms_settings["columns"] == ["Parameter", "DMS (Attn)", "DMS (FFN)", "AdamW"]
    assert dms_settings["rows"][4] == ["Learning Rate", "9e-3", "6e-3", "6e-4"]
    assert any("γ = 0.3" in c and "γ = 0.5" in c and "γ = 0.1" in c for c in papers["svrm"]["claims"])
    assert any("β_1 = 0.9, β_2 = 0.95 matched AdamW defaults" in c for c in papers["stable-momentum"]["claims"])
    fig4 = next(c for c in papers["adana"]["claims"] if c.startswith("Figure 4"))
    assert "compared with AdamW-log-time WD" in fig4 and "`adamw-logtime-wd`" in fig4
    gains = next(t for t in papers["adana"]["tables"] if t["caption"].startswith("Figure 4"))
    assert [(r[1], r[3]) for r in gains["rows"]] == [("more than 30%", "adamw-logtime-wd"), ("40%", "adamw"),
                                                     ("less than 20%", "adamw-logtime-wd")]
    assert {r[3] for r in gains["rows"]} <= set(names())
    grams = next(t for t in papers["grams"]["tables"] if t["kind"] == "final")
    assert next(r for r in grams["rows"] if r["name"] == "Adam")["optimizer"] == "adam"
