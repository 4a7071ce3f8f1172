"""Model oversubscription: training pass by pass through a parameter server gives the losses,
table and files of training one whole table on the same data in the same order; the tables are
several times the working table; HugeCTR's MOS scripts run as written."""

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.data.keyset import read_keyset, write_keyset
from hugectr_tf.embedding import files
from hugectr_tf.ps import RowBlock
from hugectr_tf.tools import DataGenerator

L, D = hugectr.Layer_t, hugectr.DenseLayer
SLOTS = [20000, 20000, 20000]
VEC = 16
BATCH = 512
LISTS = 5


def make_mos_data(folder):
    """5 file lists of about 3300 distinct keys each, 16500 in all (near-uniform keys)."""
    return DataGenerator(
        folder, "Norm", num_train_samples=LISTS * 1100,
        num_eval_samples=1000, num_files=LISTS, dense_dim=2, slot_size_array=SLOTS,
        power_law_alpha=0.05, i64_input_key=True, num_file_lists=LISTS, keyset=True, seed=4,
    ).generate()  # fmt: skip


@pytest.fixture(scope="module")
def mos_data(tmp_path_factory):
    return make_mos_data(tmp_path_factory.mktemp("mos_data"))


def build(gen, update="Global", mos=None, keysets=None, optimizer="Adam", workspace_mb=1,
          sources=None):  # fmt: skip
    """A Wide&Deep-like network: one hash embedding (1 MB working table), a dense tower."""
    solver = hugectr.CreateSolver(batchsize=BATCH, batchsize_eval=BATCH, lr=0.01,
                                  repeat_dataset=False, i64_input_key=True,
                                  max_eval_batches=2)  # fmt: skip
    reader = gen.reader_params(source=sources or gen.train_sources,
                               keyset=keysets or gen.train_keysets, num_workers=1)  # fmt: skip
    opt = hugectr.CreateOptimizer(optimizer_type=optimizer, update_type=update)
    model = hugectr.Model(solver, reader, opt, mos) if mos else hugectr.Model(solver, reader, opt)
    model.add(gen.input())
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=workspace_mb, embedding_vec_size=VEC, combiner="sum",
            sparse_embedding_name="emb", bottom_name="data1", optimizer=opt,
        )
    )  # fmt: skip
    model.add(D(L.Reshape, ["emb"], ["flat"], leading_dim=VEC * len(SLOTS)))
    model.add(D(L.Concat, ["flat", "dense"], ["concat"]))
    model.add(D(L.InnerProduct, ["concat"], ["fc1"], num_output=16))
    model.add(D(L.ReLU, ["fc1"], ["relu"]))
    model.add(D(L.InnerProduct, ["relu"], ["fc2"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    model.compile()
    return model


def train_lists(model, sources, keysets=None):
    """HugeCTR's low-level MOS loop (samples/*): per file list, set_source + update, train."""
    reader = model.get_data_reader_train()
    scheduler = model.get_learning_rate_scheduler()
    losses = []
    for i, source in enumerate(sources):
        reader.set_source(source)
        if keysets is not None:
            model.get_model_oversubscriber().update(keysets[i])
        while True:
            model.set_learning_rate(scheduler.get_next())
            if not model.train():
                break
            losses.append(model.get_current_loss())
    return losses


def table_of(model):
    return {k: v.numpy() for k, v in model.embedding_layers[0].table.export().items()}


def ps_table(model):
    ps = model.get_model_oversubscriber().parameter_servers[0]
    return RowBlock.concat(list(ps.blocks()), ps.spec).sorted(), ps


@pytest.fixture(scope="module")
def reference(mos_data):
    """The whole table trained in memory, per update type: (losses, table, dense weights)."""
    cache = {}

    def get(update):
        if update not in cache:
            model = build(mos_data, update, workspace_mb=8)  # holds the whole table
            losses = train_lists(model, mos_data.train_sources)
            dense = [w.numpy() for w in model.network.dense_weights]
            cache[update] = (losses, table_of(model), dense, model)
        return cache[update]

    return get


@pytest.mark.parametrize(
    "update, host_memory, wider_keysets",
    [("Global", True, False), ("Global", False, False), ("LazyGlobal", False, False),
     ("Local", True, True)],
)  # fmt: skip
def test_passes_give_the_whole_table(mos_data, reference, tmp_path, update, host_memory,
                                     wider_keysets):  # fmt: skip
    ref_losses, ref_table, ref_dense, ref_model = reference(update)
    dest = tmp_path / "table0"
    mos = hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=host_memory,
                            dest_sparse_models=[str(dest)])  # fmt: skip
    keysets, workspace = mos_data.train_keysets, 1
    if wider_keysets:  # a keyset may hold more keys than its file list: add the previous list's
        keysets, workspace = [], 2
        for i in range(LISTS):
            keys = [read_keyset(p) for p in mos_data.train_keysets[max(0, i - 1) : i + 1]]
            keysets.append(str(tmp_path / f"wide.{i}.keyset"))
            write_keyset(keysets[-1], np.concatenate(keys))
    model = build(mos_data, update, mos, keysets, workspace_mb=workspace)
    losses = train_lists(model, mos_data.train_sources, keysets)
    assert losses == ref_losses and len(losses) == LISTS * 3
    for w, ref in zip(model.network.dense_weights, ref_dense):
        np.testing.assert_array_equal(w.numpy(), ref)
    model.save_params_to_files(str(tmp_path / "snap"))
    block, ps = ps_table(model)
    np.testing.assert_array_equal(block.keys, ref_table["keys"])
    np.testing.assert_array_equal(block.rows, ref_table["rows"])
    np.testing.assert_array_equal(block.optimizer_slots, ref_table["optimizer_slots"])
    np.testing.assert_array_equal(block.last_step, ref_table["last_step"])
    assert ps.step == ref_table["step"]
    np.testing.assert_array_equal(ps.lr_history, ref_table["lr_history"])
    # The table is several times what the working table holds.
    capacity = int(model.embedding_layers[0].table.stats()["capacity"])
    loaded = [p["rows_loaded"] for p in model.get_model_oversubscriber().passes]
    assert ps.size > (3 if workspace == 1 else 1.5) * capacity and 0 < max(loaded) <= capacity
    # The destination folder is the sparse model save_params_to_files writes without MOS.
    ref_model.save_params_to_files(str(tmp_path / "ref"))
    want = files.read_sparse_model(tmp_path / "ref0_sparse_0.model", VEC, need_slot_id=False)
    got = files.read_sparse_model(dest, VEC, need_slot_id=False)
    order = np.argsort(got[0])
    np.testing.assert_array_equal(got[0][order], want[0])
    np.testing.assert_array_equal(got[1][order], want[1])
    assert (tmp_path / "snap_dense_0.model").read_bytes() == (
        tmp_path / "ref_dense_0.model"
    ).read_bytes()


def test_the_spec_example_fit_set_source_and_resume(mos_data, tmp_path):
    """CreateMOS + DataReaderParams(keyset=...) + fit(num_epochs) as in HugeCTR's docs; then
    set_source and a second fit; a new Model resumes from the SSD folder (train_from_scratch=
    False) and matches the Model that kept going."""
    first, rest = mos_data.train_sources[:3], mos_data.train_sources[3:]
    first_keys, rest_keys = mos_data.train_keysets[:3], mos_data.train_keysets[3:]
    dest = str(tmp_path / "sparse0.model")

    def mos_model(mos):
        return build(mos_data, "Global", mos, first_keys, sources=first)

    straight = mos_model(hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=False,
                                           dest_sparse_models=[str(tmp_path / "s0")]))  # fmt: skip
    straight.fit(num_epochs=1, display=1000, eval_interval=4)
    straight.set_source(source=rest, keyset=rest_keys, eval_source=mos_data.eval_source)
    straight.fit(num_epochs=1, display=1000, eval_interval=1000)
    assert straight.iteration == LISTS * 3

    part = mos_model(hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=False,
                                       dest_sparse_models=[dest]))  # fmt: skip
    part.fit(num_epochs=1, display=1000, eval_interval=4)
    names = part.save_params_to_files(str(tmp_path / "part"), 9)
    part.get_model_oversubscriber().close()
    resumed = build(mos_data, "Global",
                    hugectr.CreateMOS(train_from_scratch=False, use_host_memory_ps=False,
                                      trained_sparse_models=[dest]), rest_keys,
                    sources=rest)  # fmt: skip
    resumed.load_dense_weights(names["dense"])
    resumed.load_dense_optimizer_states(names["opt_dense"])
    resumed.fit(num_epochs=1, display=1000, eval_interval=1000)
    a, _ = ps_table(straight)
    b, _ = ps_table(resumed)
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.optimizer_slots, b.optimizer_slots)
    for w, v in zip(straight.network.dense_weights, resumed.network.dense_weights):
        np.testing.assert_array_equal(w.numpy(), v.numpy())


def test_incremental_model_matches_the_whole_table(mos_data, tmp_path):
    # The in-memory model's own tracker (rows updated since the last call) is the reference.
    ref = build(mos_data, "Local", workspace_mb=8)
    mos = hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=True,
                            dest_sparse_models=[str(tmp_path / "dest")])  # fmt: skip
    model = build(mos_data, "Local", mos)
    sources, keysets = mos_data.train_sources, mos_data.train_keysets
    for lists in (slice(0, 2), slice(2, 3), slice(3, 5)):
        train_lists(ref, sources[lists])
        train_lists(model, sources[lists], keysets[lists])
        ((want_keys, want_rows),) = ref.get_incremental_model()
        ((got_keys, got_rows),) = model.get_incremental_model()
        np.testing.assert_array_equal(got_keys, want_keys)
        np.testing.assert_array_equal(got_rows, want_rows)
        assert 0 < len(got_keys) < model.get_model_oversubscriber().parameter_servers[0].size or (
            lists.start == 0
        )
