"""What the figure tests share: a PNG check and hand-made metric records."""

import matplotlib.image
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 0 and pixels.shape[1] > 0


def records(epochs=4, analysis=True, k=6):
    out = []
    for e in range(1, epochs + 1):
        r = {
            "epoch": e,
            "lr": 0.01,
            "train_loss": 2.0 / e,
            "train_primary_loss": 1.5 / e,
            "train_aux_loss": 0.5 / e,
            "epoch_time_s": 0.1,
        }
        if e % 2 == 0:
            r.update(test_accuracy=0.5 + 0.1 * e, test_loss=1.0 / e)
        if analysis:
            usage = np.linspace(1, 2, k) * e
            r.update(
                grad_cosine=0.2 - 0.1 * e,
                aux_entropy=1.0 / e,
                aux_marginal_entropy=1.5,
                aux_usage=list(usage / usage.sum()),
                nmi_human=0.1 * e,
            )
        out.append(r)
    return out
