"""Human agreement per primary class on a hand-made label table."""

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from maxl.analysis.human import human_agreement


def test_counts_nmi_and_median_confidence_per_primary_class():
    primary = np.array([0, 0, 0, 0, 0, 1, 1])
    human = np.array([10, 10, 11, 11, 11, 12, 12])  # class 1 has one human class: left out
    aux = np.array([0, 0, 1, 1, 0, 2, 3])
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    found = human_agreement(aux, confidence, primary, human)
    assert list(found) == [0]
    first = found[0]
    assert first.aux_classes == [0, 1] and first.humans == [10, 11]
    np.testing.assert_array_equal(first.counts, [[2, 1], [0, 2]])
    assert first.median_confidence == pytest.approx(0.7)
    expected = normalized_mutual_info_score([10, 10, 11, 11, 11], [0, 0, 1, 1, 0])
    assert first.nmi == pytest.approx(expected)
