"""`maxl show`: figures and a markdown report of what a run (or a comparison) learned."""

from maxl.report.figures import overlay_figures
from maxl.report.show import show

__all__ = ["overlay_figures", "show"]
