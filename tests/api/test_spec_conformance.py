"""Every name and argument of HugeCTR 3.1's Python interface document exists, with its default.

The reference is the document itself (`../shared/spec/hugectr_python_interface.md`): every
`hugectr.X.Y` it mentions must resolve on `hugectr_tf`, and for each method or class section the
arguments listed under **Arguments** must be accepted, with "The default value is ..." where the
document gives one. The few exceptions are listed below with their reason.
"""

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import hugectr_tf as hugectr
from hugectr_tf.api.lr_scheduler import LearningRateScheduler
from hugectr_tf.config import DENSE_DEFAULTS
from hugectr_tf.data import DataReader
from hugectr_tf.inference.session import InferenceSession

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "hugectr_python_interface.md"
if not SPEC.is_file():
    SPEC = Path("/work/shared/spec/hugectr_python_interface.md")
pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason=f"spec not found at {SPEC}")

# Names the document mentions that are not HugeCTR API, or that another issue provides.
NOT_CHECKED = {
    "ElementWiseMultiply": "a typo of Layer_t.ElementwiseMultiply in the document",
}
# (section, argument) pairs provided by another issue.
ELSEWHERE = {}


def _sections():
    """{heading text: [(argument, default text or None)]} of every section with **Arguments**."""
    out, heading, in_args = {}, None, False
    for line in SPEC.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            heading = re.sub(r"[#*\s]+", " ", line).strip()
            in_args = False
        elif line.startswith("**Arguments**"):
            in_args = True
            out.setdefault(heading, [])
        elif in_args and (m := re.match(r"\* `(\w+)`(?: or `\w+`)*:(.*)", line)):
            default = re.search(r"The default value is (.+?)(?:\.\s|\.$|,|$)", m[2])
            out[heading].append((m[1], default[1].strip() if default else None))
    return out


def _dataclass_defaults(cls):
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
        else:
            values[f.name] = inspect.Parameter.empty
    return values


def _signature_defaults(fn):
    params = inspect.signature(fn).parameters
    return {n: p.default for n, p in params.items() if n != "self"}


def _dense_layer_defaults():
    return {"layer_type": None, "bottom_names": None, "top_names": None, **DENSE_DEFAULTS}


# Section heading (as the document writes it) -> {argument: our default}.
TARGETS = {
    "CreateSolver method": lambda: _dataclass_defaults(hugectr.Solver),
    "CreateMOS method": lambda: _dataclass_defaults(hugectr.ModelOversubscriberParams),
    "DataReaderParams class": lambda: _dataclass_defaults(hugectr.DataReaderParams),
    "CreateOptimizer method": lambda: _dataclass_defaults(hugectr.OptParamsPy),
    "Input Layer": lambda: _dataclass_defaults(hugectr.Input),
    "SparseEmbedding": lambda: _dataclass_defaults(hugectr.SparseEmbedding),
    "DenseLayer": _dense_layer_defaults,
    "Model class": lambda: _signature_defaults(hugectr.Model.__init__),
    "fit method": lambda: _signature_defaults(hugectr.Model.fit),
    "graph_to_json method": lambda: _signature_defaults(hugectr.Model.graph_to_json),
    "construct_from_json method": lambda: _signature_defaults(hugectr.Model.construct_from_json),
    "load_dense_weights method": lambda: _signature_defaults(hugectr.Model.load_dense_weights),
    "load_dense_optimizer_states method": lambda: _signature_defaults(
        hugectr.Model.load_dense_optimizer_states
    ),
    "load_sparse_weights method": lambda: _signature_defaults(hugectr.Model.load_sparse_weights),
    "load_sparse_optimizer_states method": lambda: _signature_defaults(
        hugectr.Model.load_sparse_optimizer_states
    ),
    "reset_learning_rate_scheduler method": lambda: _signature_defaults(
        hugectr.Model.reset_learning_rate_scheduler
    ),
    "set_source method": lambda: {
        **_signature_defaults(hugectr.Model.set_source),
        **_signature_defaults(DataReader.set_source),
    },
    "set_learning_rate method": lambda: _signature_defaults(hugectr.Model.set_learning_rate),
    "save_params_to_files method": lambda: _signature_defaults(hugectr.Model.save_params_to_files),
    "export_predictions method": lambda: _signature_defaults(hugectr.Model.export_predictions),
    "InferenceParams class": lambda: _dataclass_defaults(hugectr.inference.InferenceParams),
    "CreateInferenceSession method": lambda: _signature_defaults(
        hugectr.inference.CreateInferenceSession
    ),
    "predict method": lambda: {
        **_signature_defaults(InferenceSession._predict_files),
        **_signature_defaults(InferenceSession._predict_arrays),
    },
    "evaluate method": lambda: _signature_defaults(InferenceSession.evaluate),
    "update method": lambda: _signature_defaults(hugectr.ModelOversubscriber.update),
}
SECTIONS = _sections() if SPEC.is_file() else {}


def _parse_default(text):
    """The Python value of a default as the document writes it, or `_UNPARSED`."""
    text = text.strip("`")
    if text in ("True", "False"):
        return text == "True"
    if text in ("[]", "an empty list"):
        return []
    if text == "''":
        return ""
    if text == "[[0]]":
        return [[0]]
    if text.startswith("{MetricsType.AUC:"):
        return {hugectr.MetricsType.AUC: 1.0}
    if m := re.fullmatch(r"(?:hugectr\.)?(\w+_t)\.(\w+)", text):
        return getattr(getattr(hugectr, m[1]), m[2])
    try:
        return float(text)
    except ValueError:
        return _UNPARSED


_UNPARSED = object()


def test_every_name_the_document_mentions_exists():
    text = SPEC.read_text(encoding="utf-8", errors="replace")
    missing = []
    for ref in sorted(set(re.findall(r"hugectr((?:\.[A-Za-z_]\w*)+)", text))):
        obj = hugectr
        for part in ref.strip(".").split("."):
            if part in NOT_CHECKED:
                break
            if not hasattr(obj, part):
                missing.append(f"hugectr{ref}")
                break
            obj = getattr(obj, part)
    assert not missing


# Sections with arguments that the table above does not cover, and why.
UNCOVERED = {
    "add method": "Model.add takes one positional layer; tests/api/test_model_graph.py",
}


def test_every_documented_section_is_checked():
    assert set(SECTIONS) - set(UNCOVERED) == set(TARGETS), "new section in the document?"


@pytest.mark.parametrize("section", sorted(TARGETS))
def test_arguments_and_defaults_of(section):
    ours = TARGETS[section]()
    problems = []
    for name, default in SECTIONS[section]:
        if (section, name) in ELSEWHERE:
            continue
        if name not in ours:
            problems.append(f"{name}: missing")
            continue
        if default is None:
            continue  # "There is NO default value" (ours may still have one)
        expected = _parse_default(default)
        if expected is _UNPARSED:
            problems.append(f"{name}: cannot read the document's default {default!r}")
        elif (list(ours[name]) if isinstance(ours[name], tuple) else ours[name]) != expected:
            problems.append(f"{name}: default {ours[name]!r}, document says {default!r}")
    assert not problems, f"{section}: {problems}"


def test_low_level_classes_are_the_objects_the_model_hands_out():
    assert hugectr.DataReader32 is hugectr.DataReader64 is DataReader
    assert hugectr.LearningRateScheduler is LearningRateScheduler
