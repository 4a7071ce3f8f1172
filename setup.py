"""Builds `hugectr_tf/_hugectr_tf_ops.so` from `cc/` against the TensorFlow the build sees.

Everything else about the package lives in pyproject.toml. The compile uses the flags of the
TensorFlow found at build time (`tf.sysconfig`): in an isolated `pip install .` that is the
release the build backend asked for (build_backend/hugectr_tf_build.py: the one already
installed in the target environment when supported); with `--no-build-isolation` (the README's
commands) the environment's own. The wheel then requires that TensorFlow distribution and minor
version (build_backend/tensorflow_requirements.py). Objects are cached under `build/obj`, one
folder per TensorFlow and flag set, and only recompiled when their source or any header changed,
so `python setup.py build_ext --inplace` is a quick rebuild while developing.

CUDA sources (`*.cu`, `*.cu.cc`) are compiled in only when nvcc is found and TensorFlow is a
CUDA build; set HUGECTR_TF_CUDA=0 to force a CPU-only library, =1 to require CUDA.
HUGECTR_TF_CUDA=force compiles and links them even against a CPU build of TensorFlow: a build
check only (its GPU kernels can never run there), so build it outside the package, e.g.
`HUGECTR_TF_CUDA=force python setup.py build_ext --build-lib /tmp/cuda_check`.
HUGECTR_TF_CUDA_ARCHS (default "80,90") lists the GPU architectures compiled (SASS for each,
plus PTX of the last for newer cards).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "build_backend"))
from tensorflow_requirements import runtime_requirements  # noqa: E402 (needs the path above)

LIBRARY_NAME = "_hugectr_tf_ops.so"
CXX_FLAGS = [
    "-O3",
    "-fPIC",
    "-Wall",
    "-Wno-sign-compare",
    "-Wno-unused-function",
    "-Wno-deprecated-declarations",
]


def _tensorflow_info():
    """Asks the TensorFlow that is installed for its flags (in a subprocess: no TF import here)."""
    script = (
        "import json, tensorflow as tf;"
        "print(json.dumps({'version': tf.__version__,"
        " 'cflags': tf.sysconfig.get_compile_flags(),"
        " 'lflags': tf.sysconfig.get_link_flags(),"
        " 'cuda': bool(tf.sysconfig.get_build_info().get('is_cuda_build'))}))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(
            "hugectr_tf compiles against TensorFlow, which the build could not import (install "
            "tensorflow-cpu or tensorflow first with --no-build-isolation):\n" + out.stderr[-2000:]
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _want_cuda(tf_is_cuda_build):
    choice = os.environ.get("HUGECTR_TF_CUDA", "auto").lower()
    nvcc = shutil.which("nvcc")
    if choice in ("0", "off", "false"):
        return None
    if choice in ("1", "on", "true"):
        if not (nvcc and tf_is_cuda_build):
            raise RuntimeError("HUGECTR_TF_CUDA=1 but nvcc or a CUDA build of TF is missing")
        return nvcc
    if choice == "force":  # build check only (see the module docstring)
        if not nvcc:
            raise RuntimeError("HUGECTR_TF_CUDA=force but nvcc is not on PATH")
        return nvcc
    return nvcc if (nvcc and tf_is_cuda_build) else None


def _cuda_lib_dir(nvcc):
    """The toolkit folder holding libcudart (nvcc may be a wrapper script outside the toolkit)."""
    homes = [os.environ.get("CUDA_HOME", ""), str(Path(nvcc).resolve().parent.parent)]
    dry = subprocess.run(
        [nvcc, "--dryrun", "-c", "-x", "cu", os.devnull], capture_output=True, text=True
    )
    words = (dry.stdout + dry.stderr).split()
    homes += [w.split("=", 1)[1] for w in words if w.startswith("TOP=")]
    for home in filter(None, homes):
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib"):
            if list((Path(home) / sub).glob("libcudart.so*")):
                return (Path(home) / sub).resolve()
    raise RuntimeError(f"libcudart not found under {homes}; set CUDA_HOME to the CUDA toolkit")


def _gencode_flags():
    archs = [a.strip() for a in os.environ.get("HUGECTR_TF_CUDA_ARCHS", "80,90").split(",")]
    flags = []
    for a in filter(None, archs):
        flags += ["-gencode", f"arch=compute_{a},code=sm_{a}"]
    return flags + ["-gencode", f"arch=compute_{archs[-1]},code=compute_{archs[-1]}"]


def _sources():
    cc = sorted(p for p in (ROOT / "cc").rglob("*.cc") if not p.name.endswith(".cu.cc"))
    cu = sorted((ROOT / "cc").rglob("*.cu")) + sorted((ROOT / "cc").rglob("*.cu.cc"))
    headers = list((ROOT / "cc").rglob("*.h")) + list((ROOT / "cc").rglob("*.cuh"))
    return cc, cu, headers


def _compile_all(jobs, obj_dir, newest_header):
    """Runs (command, object) jobs whose object is older than its source or any header."""
    stale = []
    for src, obj, cmd in jobs:
        if not obj.exists() or obj.stat().st_mtime < max(src.stat().st_mtime, newest_header):
            stale.append((src, cmd))
    workers = max(1, min(len(stale), os.cpu_count() or 1))

    def run(item):
        src, cmd = item
        print(f"[hugectr_tf] compiling {src.relative_to(ROOT)}", flush=True)
        res = subprocess.run(cmd, capture_output=True, text=True)
        return src, res

    failures = []
    with ThreadPoolExecutor(workers) as pool:
        for src, res in pool.map(run, stale):
            if res.returncode != 0:
                failures.append(f"--- {src.relative_to(ROOT)}\n{res.stderr}")
            elif res.stderr.strip():
                print(res.stderr, file=sys.stderr)
    if failures:
        raise RuntimeError("compiling the op library failed:\n" + "\n".join(failures))


def build_library(output_dir):
    """Compiles cc/ into output_dir/_hugectr_tf_ops.so and writes _build_info.json beside it."""
    tf = _tensorflow_info()
    nvcc = _want_cuda(tf["cuda"])
    cc, cu, headers = _sources()
    newest_header = max((h.stat().st_mtime for h in headers), default=0.0)
    includes = [f"-I{ROOT}", f"-I{ROOT / 'cc'}"]
    # TensorFlow's headers as system headers: g++ (and nvcc) would warn at length inside them.
    tf_cflags = []
    for flag in tf["cflags"]:
        tf_cflags += ["-isystem", flag[2:]] if flag.startswith("-I") else [flag]
    defines = [f'-DHUGECTR_TF_BUILT_FOR_TF="{tf["version"]}"']
    if nvcc:
        defines += ["-DGOOGLE_CUDA=1", "-DHUGECTR_TF_WITH_CUDA=1"]
    cxx = os.environ.get("CXX", "g++")
    # One object folder per configuration: objects compiled against another TensorFlow (an
    # isolated `pip install .` builds in this tree too) or with other flags are never reused.
    config = [tf["version"], tf_cflags, cxx, CXX_FLAGS, defines, nvcc, nvcc and _gencode_flags()]
    digest = hashlib.sha1(json.dumps(config).encode()).hexdigest()[:10]
    obj_dir = ROOT / "build" / "obj" / f"tf{tf['version']}-{'cuda' if nvcc else 'cpu'}-{digest}"
    obj_dir.mkdir(parents=True, exist_ok=True)

    jobs = []
    for src in cc:
        obj = obj_dir / (str(src.relative_to(ROOT)).replace("/", "__") + ".o")
        cmd = [cxx, "-c", str(src), "-o", str(obj), *CXX_FLAGS, *includes, *defines, *tf_cflags]
        jobs.append((src, obj, cmd))
    if nvcc:
        nvcc_tf_cflags = [f for f in tf_cflags if f != "--std=c++17"]  # given once below
        for src in cu:
            obj = obj_dir / (str(src.relative_to(ROOT)).replace("/", "__") + ".o")
            cmd = [
                nvcc,
                "-c",
                "-x",
                "cu",
                str(src),
                "-o",
                str(obj),
                "-O3",
                "--std=c++17",
                "-Xcompiler",
                "-fPIC",
                "--expt-relaxed-constexpr",
                *_gencode_flags(),
                *includes,
                *defines,
                *nvcc_tf_cflags,
            ]
            jobs.append((src, obj, cmd))
    _compile_all(jobs, obj_dir, newest_header)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / LIBRARY_NAME
    link = [cxx, "-shared", "-o", str(target), *[str(obj) for _, obj, _ in jobs], *tf["lflags"]]
    if nvcc:
        cuda_lib = _cuda_lib_dir(nvcc)
        link += [f"-L{cuda_lib}", f"-Wl,-rpath,{cuda_lib}", "-lcudart"]
    res = subprocess.run(link, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("linking the op library failed:\n" + res.stderr)
    info = {"tensorflow_version": tf["version"], "cuda": bool(nvcc), "compiler": cxx}
    (output_dir / "_build_info.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"[hugectr_tf] built {target} for TensorFlow {tf['version']} (cuda={bool(nvcc)})")
    return target


class BuildOpLibrary(build_ext):
    """Replaces setuptools' extension build with the TensorFlow-flavoured one above."""

    def run(self):
        package_dir = ROOT / "hugectr_tf" if self.inplace else Path(self.build_lib) / "hugectr_tf"
        build_library(package_dir)

    def get_outputs(self):
        return [str(Path(self.build_lib) / "hugectr_tf" / LIBRARY_NAME)]


# A placeholder extension makes setuptools produce a platform wheel and call build_ext.
setup(
    install_requires=runtime_requirements() + ["numpy>=1.26", "pyarrow>=14"],
    ext_modules=[Extension("hugectr_tf._hugectr_tf_ops", sources=[])],
    cmdclass={"build_ext": BuildOpLibrary},
)
