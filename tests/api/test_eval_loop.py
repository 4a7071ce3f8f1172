"""HugeCTR's low-level evaluation pattern right after `fit` (issue: the README's AUC was NaN).

With `repeat_dataset=True` HugeCTR's readers loop forever, so `for _ in range(n): model.eval()`
after `fit` reads data. The reference is the AUC of the same model over one fresh pass of the
eval set, computed from `export_predictions` output by the package's exact AUC.
"""

import numpy as np
import pytest
from model_builders import SLOT_SIZES, add_dcn, make_model

from hugectr_tf.api.metrics import exact_auc
from hugectr_tf.tools import DataGenerator


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return DataGenerator(
        tmp_path_factory.mktemp("eval_loop"),
        "Norm",
        num_train_samples=2048,
        num_eval_samples=512,
        num_files=1,
        dense_dim=4,
        slot_size_array=SLOT_SIZES,
        seed=4,
    ).generate()


def test_eval_after_fit_reads_a_whole_pass_in_iteration_mode(gen, tmp_path):
    model, opt = make_model(gen, batchsize=128)  # 4 eval batches = one pass
    add_dcn(model, opt, gen, dropout_rate=0.0)
    model.compile()
    model.fit(max_iter=8, display=4, eval_interval=4)  # two evaluations: two whole passes
    for _ in range(4):
        assert model.eval()
    metrics = dict(model.get_eval_metrics())
    model.export_predictions(str(tmp_path / "p.txt"), str(tmp_path / "l.txt"))
    preds, labels = np.loadtxt(tmp_path / "p.txt"), np.loadtxt(tmp_path / "l.txt")
    assert preds.size == 512 and np.isfinite(metrics["AUC"])
    np.testing.assert_array_equal(labels, gen.eval_labels)  # the pass starts at sample 0
    assert metrics["AUC"] == pytest.approx(exact_auc(labels, preds), abs=1e-6)


def test_eval_keeps_looping_and_epoch_mode_stops_at_the_end(gen):
    model, opt = make_model(gen, batchsize=128)
    add_dcn(model, opt, gen)
    model.compile()
    assert all(model.eval() for _ in range(9))  # 2 passes and one batch: never runs dry
    epoch, opt = make_model(gen, batchsize=128, repeat=False)
    add_dcn(epoch, opt, gen)
    epoch.compile()
    assert [epoch.eval() for _ in range(5)] == [True] * 4 + [False]
