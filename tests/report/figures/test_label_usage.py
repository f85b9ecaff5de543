"""The label usage figure on hand-made records."""

from figure_helpers import assert_png, records

from maxl.report.figures.label_usage import aux_usage_figure


def test_the_usage_figure_copes_with_a_psi_that_does_not_fit(tmp_path):
    # (show's tests draw the usual case: grey digits, a fitting ψ, every run figure)
    aux_usage_figure(records(k=6), tmp_path / "usage.png", psi=[5, 5])  # no blocks drawn
    assert_png(tmp_path / "usage.png")
