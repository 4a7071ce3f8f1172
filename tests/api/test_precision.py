"""use_mixed_precision on CPUs: bfloat16 where the CPU has it, else float32 with one note."""

import re

import pytest

from hugectr_tf.api import precision


def test_policy_per_machine():
    assert precision.mixed_precision_policy(False) == ("float32", None)
    assert precision.mixed_precision_policy(False, gpu=True) == ("float32", None)
    assert precision.mixed_precision_policy(True, gpu=True) == ("mixed_float16", None)
    assert precision.mixed_precision_policy(True, gpu=False, bfloat16=True) == (
        "mixed_bfloat16",
        None,
    )
    policy, note = precision.mixed_precision_policy(True, gpu=False, bfloat16=False)
    assert policy == "float32"
    assert "float32" in note and "bfloat16" in note


@pytest.mark.parametrize(
    "flags,expected",
    [
        ("fpu sse avx2 fma avx512f", False),
        ("fpu sse avx2 avx512f avx512_bf16", True),
        ("fpu sse amx_tile amx_bf16 amx_int8", True),
        ("fpu avx512_bf16x", False),  # whole flags only
    ],
)
def test_cpu_bfloat16_from_cpuinfo_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n")
    assert precision.cpu_has_bfloat16(str(cpuinfo)) is expected


def test_missing_cpuinfo_means_no_bfloat16(tmp_path):
    assert precision.cpu_has_bfloat16(str(tmp_path / "absent")) is False


def test_note_is_printed_once(capsys, monkeypatch):
    monkeypatch.setattr(precision, "_noted", False)
    precision.note_once("computing in float32")
    precision.note_once("computing in float32")
    precision.note_once(None)
    out = capsys.readouterr().out
    assert out.count("computing in float32") == 1
    assert re.match(r"\[\d\dd\d\dh\d\dm\d\ds\]\[HUGECTR\]\[INFO\]: ", out), out
    assert "computing in float32" in out
