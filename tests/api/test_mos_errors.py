"""Model oversubscription's bad input: each raises naming what is wrong, before the parameter
server changes."""

import numpy as np
import pytest
from test_mos import BATCH, build, make_mos_data, train_lists

import hugectr_tf as hugectr
from hugectr_tf.api.oversubscription import KeysetError
from hugectr_tf.data.keyset import read_keyset, write_keyset
from hugectr_tf.embedding import files


@pytest.fixture(scope="module")
def mos_data(tmp_path_factory):
    return make_mos_data(tmp_path_factory.mktemp("mos_errors"))


def _mos(tmp_path, host_memory=True, name="dest"):
    return hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=host_memory,
                             dest_sparse_models=[str(tmp_path / name)])  # fmt: skip


def test_model_level_checks(mos_data, tmp_path):
    gen = mos_data
    solver = hugectr.CreateSolver(batchsize=BATCH, repeat_dataset=True, i64_input_key=True)
    reader = gen.reader_params(source=gen.train_sources, keyset=gen.train_keysets)
    opt = hugectr.CreateOptimizer()
    with pytest.raises(ValueError, match="epoch mode: set repeat_dataset=False"):
        hugectr.Model(solver, reader, opt, _mos(tmp_path))
    solver = hugectr.CreateSolver(batchsize=BATCH, repeat_dataset=False, i64_input_key=True)
    short = gen.reader_params(source=gen.train_sources, keyset=gen.train_keysets[:2])
    with pytest.raises(ValueError, match="one keyset file per training source"):
        hugectr.Model(solver, short, opt, _mos(tmp_path))
    with pytest.raises(TypeError, match="CreateMOS"):
        hugectr.Model(solver, reader, opt, {"train_from_scratch": True})
    with pytest.raises(ValueError, match="`keyset` must be a list of keyset file names"):
        gen.reader_params(keyset=[3])
    with pytest.raises(ValueError, match="`trained_sparse_models` must be non-empty"):
        hugectr.CreateMOS(train_from_scratch=False)
    # Without MOS: no oversubscriber, and no keyset in set_source.
    plain = build(gen, "Global", workspace_mb=8)
    with pytest.raises(RuntimeError, match="needs model oversubscription"):
        plain.get_model_oversubscriber()
    with pytest.raises(ValueError, match="takes a keyset only with model oversubscription"):
        plain.set_source(gen.train_sources[0], [gen.train_keysets[0]], gen.eval_source)


def test_folder_checks_at_compile(mos_data, tmp_path):
    gen = mos_data
    files.write_sparse_model(tmp_path / "used", np.arange(3), np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="already holds a model.*train_from_scratch=False"):
        build(gen, mos=_mos(tmp_path, name="used"))
    missing = hugectr.CreateMOS(train_from_scratch=False, trained_sparse_models=["nowhere"])
    with pytest.raises(FileNotFoundError, match="`nowhere` does not exist"):
        build(gen, mos=missing)
    two = hugectr.CreateMOS(dest_sparse_models=[str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(ValueError, match="one sparse model folder per embedding layer \\(1\\)"):
        build(gen, mos=two)
    files.write_sparse_model(tmp_path / "narrow", np.arange(3), np.zeros((3, 8), np.float32))
    narrow = hugectr.CreateMOS(train_from_scratch=False, use_host_memory_ps=False,
                               trained_sparse_models=[str(tmp_path / "narrow")])  # fmt: skip
    with pytest.raises(ValueError, match="embedding_vec_size=16 need .*embedding_vec_size=8"):
        build(gen, mos=narrow)


def test_one_hot_tables_are_not_oversubscribed(mos_data, tmp_path):
    gen = mos_data
    solver = hugectr.CreateSolver(batchsize=BATCH, repeat_dataset=False, i64_input_key=True)
    reader = gen.reader_params(source=gen.train_sources, keyset=gen.train_keysets)
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer(), _mos(tmp_path))
    model.add(gen.input())
    model.add(hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
        workspace_size_per_gpu_in_mb=16, embedding_vec_size=4, combiner="sum",
        sparse_embedding_name="emb", bottom_name="data1", slot_size_array=gen.slot_size_array,
    ))  # fmt: skip
    model.add(hugectr.DenseLayer(hugectr.Layer_t.Reshape, ["emb"], ["r"], leading_dim=12))
    model.add(hugectr.DenseLayer(hugectr.Layer_t.InnerProduct, ["r"], ["fc"], num_output=1))
    model.add(hugectr.DenseLayer(hugectr.Layer_t.BinaryCrossEntropyLoss, ["fc", "label"], ["l"]))
    with pytest.raises(ValueError, match="hash embeddings .*OneHot is a dense table"):
        model.compile()


@pytest.mark.parametrize("host_memory", [True, False])
def test_keysets_missing_keys_are_an_error_and_the_ps_keeps_its_pass(mos_data, tmp_path,
                                                                     host_memory):  # fmt: skip
    gen = mos_data
    model = build(gen, mos=_mos(tmp_path, host_memory))
    oversubscriber = model.get_model_oversubscriber()
    with pytest.raises(RuntimeError, match="load a keyset before training"):
        model.train()
    with pytest.raises(FileNotFoundError, match="keyset file `nowhere.keyset` does not exist"):
        oversubscriber.update("nowhere.keyset")
    with pytest.raises(ValueError, match="one keyset file, or a list of one per embedding"):
        oversubscriber.update([gen.train_keysets[0]] * 2)
    (tmp_path / "empty.keyset").write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        oversubscriber.update(str(tmp_path / "empty.keyset"))
    (tmp_path / "odd.keyset").write_bytes(b"\0" * 12)
    with pytest.raises(ValueError, match="12 bytes, not a multiple of 8"):
        oversubscriber.update(str(tmp_path / "odd.keyset"))
    train_lists(model, gen.train_sources[:1], gen.train_keysets[:1])
    oversubscriber.dump()
    ps = oversubscriber.parameter_servers[0]
    size, step = ps.size, ps.step
    # Pass 2 with a keyset that lacks a third of its list's keys.
    keys = read_keyset(gen.train_keysets[1])
    write_keyset(tmp_path / "short.keyset", keys[::3][: len(keys) // 2])
    train_lists(model, gen.train_sources[1:2], [str(tmp_path / "short.keyset")])
    with pytest.raises(KeysetError, match="keys that keyset .*short.keyset` does not hold"):
        oversubscriber.update(gen.train_keysets[2])
    assert (ps.size, ps.step) == (size, step)  # nothing of the bad pass reached the PS
    with pytest.raises(KeysetError):
        model.save_params_to_files(str(tmp_path / "snap"))


def test_a_keyset_with_keys_neither_its_data_nor_the_table_holds_is_an_error(mos_data, tmp_path):
    gen = mos_data
    model = build(gen, mos=_mos(tmp_path), workspace_mb=2)
    oversubscriber = model.get_model_oversubscriber()
    train_lists(model, gen.train_sources[:1], gen.train_keysets[:1])
    oversubscriber.update(gen.train_keysets[1])  # an exact keyset: no error
    ps = oversubscriber.parameter_servers[0]
    size, step = ps.size, ps.step
    # Pass 3's keyset plus pass 1's keys (in the table: allowed) plus 40 keys no one holds.
    foreign = np.arange(10**12, 10**12 + 40, dtype=np.int64)
    wide = np.concatenate([read_keyset(gen.train_keysets[2]), read_keyset(gen.train_keysets[0])])
    write_keyset(tmp_path / "foreign.keyset", np.concatenate([wide, foreign]))
    train_lists(model, gen.train_sources[1:2])
    oversubscriber.update(str(tmp_path / "foreign.keyset"))
    size, step = ps.size, ps.step
    train_lists(model, gen.train_sources[2:3])
    error = r"foreign.keyset` holds 40 keys that neither its file list nor the parameter server"
    with pytest.raises(KeysetError, match=error + r" held \(first: \[1000000000000, "):
        oversubscriber.update(gen.train_keysets[3])
    assert (ps.size, ps.step) == (size, step)  # nothing of the bad pass reached the PS
    with pytest.raises(KeysetError):  # the pass stays refused (keys in the table: test_mos)
        model.get_model_oversubscriber().end_pass()


def test_the_working_table_must_hold_a_keysets_rows(mos_data, tmp_path):
    gen = mos_data
    model = build(gen, mos=_mos(tmp_path))
    train_lists(model, gen.train_sources[:2], gen.train_keysets[:2])
    both = np.concatenate([read_keyset(k) for k in gen.train_keysets[:2]])
    write_keyset(tmp_path / "both.keyset", both)
    with pytest.raises(ValueError, match="holds 4228 rows .* needs at least 2 MB"):
        model.get_model_oversubscriber().update(str(tmp_path / "both.keyset"))


def test_calls_hugectr_refuses_under_mos(mos_data, tmp_path):
    gen = mos_data
    model = build(gen, mos=_mos(tmp_path, host_memory=False))
    with pytest.raises(RuntimeError, match="load_sparse_weights is not available"):
        model.load_sparse_weights([str(tmp_path / "x")])
    with pytest.raises(RuntimeError, match="load_sparse_optimizer_states is not available"):
        model.load_sparse_optimizer_states([str(tmp_path / "x")])
    with pytest.raises(RuntimeError, match="host-memory parameter server"):
        model.get_incremental_model()
    with pytest.raises(ValueError, match="one keyset per source and an eval_source"):
        model.set_source(gen.train_sources, gen.train_keysets[:1], gen.eval_source)
    with pytest.raises(ValueError, match="`display` must be a positive integer"):
        model.fit(num_epochs=1, display=0)
