"""`CreateSolver` takes every argument of HugeCTR 3.1's binding, with its name and default.

The reference is HugeCTR 3.1's `HugeCTR/pybind/solver_wrapper.hpp` (the `pybind11::arg(...) = `
defaults of `CreateSolver`), written out here by hand in HugeCTR's order.
"""

import dataclasses
import inspect

import pytest

import hugectr_tf as hugectr

HUGECTR_31_CREATE_SOLVER = [
    ("seed", 0),
    ("lr_policy", hugectr.LrPolicy_t.fixed),
    ("lr", 0.001),
    ("warmup_steps", 1),
    ("decay_start", 0),
    ("decay_steps", 1),
    ("decay_power", 2.0),
    ("end_lr", 0.0),
    ("max_eval_batches", 100),
    ("batchsize_eval", 2048),
    ("batchsize", 2048),
    ("vvgpu", [[0]]),
    ("repeat_dataset", True),
    ("use_mixed_precision", False),
    ("enable_tf32_compute", False),
    ("scaler", 1.0),
    ("metrics_spec", {hugectr.MetricsType.AUC: 1.0}),
    ("i64_input_key", False),
    ("use_algorithm_search", True),
    ("use_cuda_graph", True),
    ("async_mlp_wgrad", False),
    ("gen_loss_summary", True),
    ("overlap_lr", False),
    ("overlap_init_wgrad", False),
    ("overlap_ar_a2a", False),
    ("device_layout", hugectr.DeviceLayout.LocalFirst),
    ("use_holistic_cuda_graph", False),
    ("use_overlapped_pipeline", False),
    ("all_reduce_algo", hugectr.AllReduceAlgo.OneShot),
    ("grouped_all_reduce", False),
    ("num_iterations_statistics", 20),
    ("is_dlrm", False),
]


def test_every_argument_of_hugectr_31_with_its_default_in_its_order():
    solver = hugectr.CreateSolver()
    names = [f.name for f in dataclasses.fields(hugectr.Solver)]
    assert names == [name for name, _ in HUGECTR_31_CREATE_SOLVER]
    for name, default in HUGECTR_31_CREATE_SOLVER:
        assert getattr(solver, name) == default, name


def test_positional_order_matches_hugectr():
    params = list(inspect.signature(hugectr.Solver).parameters)
    assert params == [name for name, _ in HUGECTR_31_CREATE_SOLVER]


def test_dlrm_dgx_a100_arguments_are_accepted_and_stored():
    # The argument set of HugeCTR 3.1's samples/dlrm/dgx_a100*.py scripts.
    solver = hugectr.CreateSolver(
        use_cuda_graph=False,
        async_mlp_wgrad=True,
        gen_loss_summary=False,
        overlap_lr=True,
        overlap_init_wgrad=True,
        overlap_ar_a2a=True,
        device_layout=hugectr.DeviceLayout.NodeFirst,
        use_holistic_cuda_graph=True,
        use_overlapped_pipeline=True,
        all_reduce_algo=hugectr.AllReduceAlgo.NCCL,
        grouped_all_reduce=True,
        num_iterations_statistics=20,
        is_dlrm=True,
    )
    assert solver.device_layout is hugectr.DeviceLayout.NodeFirst
    assert solver.all_reduce_algo is hugectr.AllReduceAlgo.NCCL
    assert solver.use_holistic_cuda_graph and solver.grouped_all_reduce and solver.overlap_ar_a2a


def test_enums_parse_from_their_names():
    solver = hugectr.CreateSolver(device_layout="NodeFirst", all_reduce_algo="NCCL")
    assert solver.device_layout is hugectr.DeviceLayout.NodeFirst
    assert solver.all_reduce_algo is hugectr.AllReduceAlgo.NCCL
    assert repr(hugectr.AllReduceAlgo.OneShot) == "hugectr.AllReduceAlgo.OneShot"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        # HugeCTR 3.1's own refusals
        ({"use_mixed_precision": True, "scaler": 1024, "enable_tf32_compute": True}, "enable_tf32"),
        ({"use_holistic_cuda_graph": True, "use_cuda_graph": False}, "use_holistic_cuda_graph"),
        ({"use_overlapped_pipeline": True}, "use_overlapped_pipeline"),
        ({"grouped_all_reduce": True}, "grouped_all_reduce"),
        ({"is_dlrm": True, "use_holistic_cuda_graph": True}, "use_holistic_cuda_graph"),
        ({"async_mlp_wgrad": True}, "async_mlp_wgrad"),
        # bad values
        ({"all_reduce_algo": "Ring"}, "all_reduce_algo"),
        ({"device_layout": 3}, "device_layout"),
        ({"num_iterations_statistics": -1}, "num_iterations_statistics"),
        ({"overlap_lr": "yes"}, "overlap_lr"),
        ({"is_dlrm": 1}, "is_dlrm"),
    ],
)
def test_bad_combinations_and_values_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}.*Received"):
        hugectr.CreateSolver(**kwargs)


def test_unknown_argument_is_a_type_error():
    with pytest.raises(TypeError, match="all_reduce_algorithm"):
        hugectr.CreateSolver(all_reduce_algorithm=hugectr.AllReduceAlgo.NCCL)
