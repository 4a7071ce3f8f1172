"""The format campaign: every seed file damaged at many offsets (truncations and byte flips), run
through the package, and each outcome classified against the independent references.

Outcome classes:
    clean_error       the input is invalid and the error names the damaged file (or its field)
    accepted_correct  the input is still valid and the package returned exactly what it holds
    rejected_valid    the input is still valid but the package refused it
    unclear_error     the input is invalid and the error does not say which file
    partial_load      a load failed but changed the model (loads must be all-or-nothing)
    silent            the package returned a result that differs from what the input holds
    crash, hang       the worker process died, or did not answer in time
"""

import json
import math
import shutil
from pathlib import Path

import references as ref
from mutations import mutations
from seed_layout import KINDS, NORM, RAW_SLOTS

CLASSES = (
    "clean_error",
    "accepted_correct",
    "rejected_valid",
    "unclear_error",
    "partial_load",
    "silent",
    "crash",
    "hang",
)
MUST_BE_ZERO = ("crash", "hang", "silent", "partial_load", "unclear_error")
BATCH = 4

# Cases per seed file at each scale.
SCALES = {
    "fast": {"data": 14, "fit": 3, "member": 3, "plain": 4, "layer": 4, "graph": 10},
    "long": {"data": 160, "fit": 24, "member": 40, "plain": 48, "layer": 48, "graph": 160},
}


class Case:
    """One damaged input: what the worker runs, and how to judge its answer."""

    def __init__(self, target, name, request, damaged, expect):
        self.target, self.name = target, name
        self.request = request
        self.damaged = damaged  # path whose name an error must mention
        self.expect = expect  # ("invalid", reason) or ("valid", expected result)

    def judge(self, answer):
        status = answer["status"]
        if status in ("crash", "hang"):
            return status
        kind, want = self.expect
        if status == "error":
            if answer.get("changed"):
                return "partial_load"
            if kind == "valid":
                return "rejected_valid"
            if kind == "valid?":  # well-formed but maybe not meaningful: a validation error
                return "clean_error" if answer["type"] == "ValueError" else "unclear_error"
            names = (str(self.damaged), Path(self.damaged).name)
            return "clean_error" if any(n in answer["message"] for n in names) else "unclear_error"
        if kind == "invalid":
            return "silent"
        return "accepted_correct" if want(answer) else "silent"


def _norm_ref(kind):
    def decode(data):
        return ref.norm_records(data, check_sum=kind == "norm_sum", **NORM)

    return decode


def _data_cases(corpus, folder, scale, seed):
    """Damaged Norm / Raw / Parquet files read through dataset_from_params and Model.fit."""
    data = Path(corpus["folder"]) / "data"
    seeds = {
        "norm_non": data / "norm_non.bin",
        "norm_sum": data / "norm_sum.bin",
        "raw": data / "raw.bin",
        "parquet": data / "parquet" / "part_0.parquet",
    }
    decoders = {
        "norm_non": _norm_ref("norm_non"),
        "norm_sum": _norm_ref("norm_sum"),
        "raw": lambda d: ref.raw_records(d, label_dim=1, dense_dim=2, slot_sizes=RAW_SLOTS),
    }
    cases = []
    for kind in KINDS:
        original = seeds[kind].read_bytes()
        damage = mutations(original, scale["data"], seed, dense_prefix=80)
        if kind == "parquet":
            meta = (seeds[kind].parent / "_metadata.json").read_bytes()
            damage += [("meta:" + n, d) for n, d in mutations(meta, scale["data"] // 2, seed)]
        fit_every = max(1, len(damage) // scale["fit"])
        for i, (name, damaged) in enumerate(damage):
            case_dir = folder / f"{kind}-{i}"
            source, path, records = _write_data_case(
                kind, case_dir, seeds[kind], name, damaged, decoders
            )
            request = {"op": "read", "kind": kind, "source": str(source)}
            cases.append(Case(f"{kind} read", name, request, path, _records_expectation(records)))
            if i % fit_every == 0:
                fit = {"op": "fit", "kind": kind, "source": str(source)}
                cases.append(Case(f"{kind} Model.fit", name, fit, path, _fit_expectation(records)))
    return cases


def _write_data_case(kind, case_dir, seed_path, name, damaged, decoders):
    case_dir.mkdir(parents=True)
    if kind == "parquet":
        for item in seed_path.parent.iterdir():
            shutil.copy(item, case_dir / item.name)
        part, meta = case_dir / "part_0.parquet", case_dir / "_metadata.json"
        target = meta if name.startswith("meta:") else part
        target.write_bytes(damaged)
        (case_dir / "_file_list.txt").write_text(f"1\n{part}\n")
        try:
            records = ref.parquet_records(
                part, meta.read_bytes(), label_dim=1, dense_dim=2, slot_sizes=RAW_SLOTS
            )
        except ref.Invalid as err:
            records = err
        return case_dir / "_file_list.txt", target, records
    path = case_dir / seed_path.name
    path.write_bytes(damaged)
    try:
        records = decoders[kind](damaged)
    except ref.Invalid as err:
        records = err
    if kind == "raw":
        return path, path, records
    listing = case_dir / "list.txt"
    listing.write_text(f"1\n{path}\n")
    return listing, path, records


def _records_expectation(records):
    if isinstance(records, ref.Invalid):
        return ("invalid", str(records))
    want = json.loads(json.dumps([list(r) for r in records]))
    return ("valid", lambda answer: answer["records"] == want)


def _fit_expectation(records):
    if isinstance(records, ref.Invalid):
        return ("invalid", str(records))
    iterations = math.ceil(len(records) / BATCH)
    return ("valid", lambda answer: answer["iterations"] == iterations)


# Snapshot members: the file damaged, the loads that read it.
MEMBERS = (
    ("dense", "", ["dense"]),
    ("dense", ".non_trainable", ["dense"]),
    ("opt_dense", "", ["opt_dense"]),
    ("opt_dense", ".json", ["opt_dense"]),
    ("sparse0", "/key", ["sparse"]),
    ("sparse0", "/emb_vector", ["sparse"]),
    ("sparse1", "/slot_id", ["sparse"]),
    ("sparse1", "/hugectr_tf_manifest.json", ["sparse"]),
    ("opt_sparse1", "", ["opt_sparse"]),
    ("manifest", "", ["dense", "opt_dense", "sparse", "opt_sparse"]),
)


def _member_path(names, member, suffix):
    key = member.rstrip("01")
    value = names[key][int(member[-1])] if member[-1].isdigit() else names[key]
    return value + suffix


def _copy_snapshot(names, src, dst):
    """A copy of the snapshot files under `dst`; returns their names there."""
    shutil.copytree(src, dst)

    def moved(v):
        return [moved(x) for x in v] if isinstance(v, list) else str(dst / Path(v).relative_to(src))

    return {k: moved(v) for k, v in names.items()}


def _same_json(a, b):
    try:
        return json.loads(a) == json.loads(b)
    except (ValueError, UnicodeDecodeError):
        return False


def _snapshot_cases(corpus, folder, scale, seed, baseline):
    """Damaged members of a snapshot this project wrote: every damage must be refused by name,
    except a manifest whose content is unchanged (e.g. a space turned into a tab)."""
    names = corpus["names"]
    src = Path(names["manifest"]).parent
    cases = []
    for m, (member, suffix, loads) in enumerate(MEMBERS):
        original_path = _member_path(names, member, suffix)
        original = Path(original_path).read_bytes()
        for i, (name, damaged) in enumerate(mutations(original, scale["member"], seed + m)):
            copy = _copy_snapshot(names, src, folder / f"snap-{m}-{i}")
            target = Path(_member_path(copy, member, suffix))
            target.write_bytes(damaged)
            request = {"op": "load", "names": copy, "loads": loads}
            if member == "manifest" and _same_json(original, damaged):
                expect = ("valid", lambda a: a["digest"] == baseline)
            else:
                expect = ("invalid", "any change to a listed file")
            cases.append(Case(f"snapshot {member}{suffix}", name, request, target, expect))
    return cases


def _plain_cases(corpus, folder, scale, seed):
    """Damaged files of a HugeCTR-written model (no manifests): a damaged file that still fits
    the format must load exactly as its bytes say."""
    names = corpus["plain_names"]
    src = Path(names["dense"]).parent
    cases = []
    plan = (("dense", ""), ("sparse0", "/key"), ("sparse0", "/emb_vector"), ("sparse1", "/slot_id"))
    for m, (member, suffix) in enumerate(plan):
        original = Path(_member_path(names, member, suffix)).read_bytes()
        for i, (name, damaged) in enumerate(mutations(original, scale["plain"], seed + 20 + m)):
            copy = _copy_snapshot(names, src, folder / f"plain-{m}-{i}")
            target = Path(_member_path(copy, member, suffix))
            target.write_bytes(damaged)
            if member == "dense":
                request = {"op": "load", "names": copy, "loads": ["dense"]}
                expect = _plain_dense_expectation(damaged, corpus["dense_count"])
            else:
                request = {"op": "load", "names": copy, "loads": ["sparse"]}
                expect = _plain_sparse_expectation(copy, corpus)
            cases.append(Case(f"HugeCTR files {member}{suffix}", name, request, target, expect))
    return cases


def _plain_dense_expectation(damaged, count):
    try:
        want = ref.dense_floats(damaged, count)
    except ref.Invalid as err:
        return ("invalid", str(err))
    return ("valid", lambda a: a["dense_bits"] == want)


def _plain_sparse_expectation(names, corpus):
    want = []
    for i, folder in enumerate(names["sparse"]):
        folder = Path(folder)
        slot_id = (folder / "slot_id").read_bytes() if corpus["localized"][i] else None
        try:
            keys, rows, slots = ref.sparse_folder(
                (folder / "key").read_bytes(),
                (folder / "emb_vector").read_bytes(),
                slot_id,
                vec=corpus["vec"],
                capacity=corpus["capacities"][i],
            )
        except ref.Invalid as err:
            return ("invalid", str(err))
        want.append({"keys": keys, "rows": rows, "slot_ids": slots})
    return ("valid", lambda a: a["tables"] == want)


def _layer_cases(corpus, folder, scale, seed):
    """SparseEmbedding-level files: a sparse model folder with its own manifest and an
    optimizer-state file with its checksum."""
    names = corpus["names"]
    cases = []
    folder_src = Path(names["sparse"][0])
    original_manifest = (folder_src / "hugectr_tf_manifest.json").read_bytes()
    targets = [
        ("folder", "key"),
        ("folder", "emb_vector"),
        ("folder", "hugectr_tf_manifest.json"),
        ("opt", None),
    ]
    for m, (what, inner) in enumerate(targets):
        src = folder_src / inner if inner else Path(names["opt_sparse"][0])
        original = src.read_bytes()
        for i, (name, damaged) in enumerate(mutations(original, scale["layer"], seed + 40 + m)):
            case_dir = folder / f"layer-{m}-{i}"
            if what == "folder":
                shutil.copytree(folder_src, case_dir)
                (case_dir / inner).write_bytes(damaged)
                target, path = case_dir / inner, case_dir
            else:
                case_dir.mkdir()
                target = path = case_dir / "opt_states"
                target.write_bytes(damaged)
            request = {"op": "layer_load", "what": what, "path": str(path), "embedding": 0}
            harmless = inner == "hugectr_tf_manifest.json" and _same_json(
                original_manifest, damaged
            )
            if harmless:
                keys = ref.sparse_folder(
                    (folder_src / "key").read_bytes(),
                    (folder_src / "emb_vector").read_bytes(),
                    None,
                    vec=corpus["vec"],
                    capacity=corpus["capacities"][0],
                )
                expect = ("valid", lambda a, k=keys: a["tables"][0]["keys"] == k[0])
            else:
                expect = ("invalid", "any change to a checked file")
            cases.append(
                Case(f"layer {what} {inner or 'opt_states'}", name, request, target, expect)
            )
    return cases


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    else:
        yield path, node


def _get(node, path):
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return _MISSING
    return node


_MISSING = object()


def _follows(document):
    """A rebuilt graph agrees with every value the damaged document states."""

    def check(answer):
        for path, value in _leaves(answer["rebuilt"]):
            stated = _get(document, path)
            if stated is _MISSING:
                continue
            if isinstance(value, (int, float)) and isinstance(stated, (int, float)):
                if not math.isclose(value, stated, rel_tol=1e-6):
                    return False
            elif json.loads(json.dumps(value)) != stated and not (
                isinstance(stated, list) and len(stated) == 1 and stated[0] == value
            ):
                return False
        return True

    return check


def _graph_cases(corpus, folder, scale, seed):
    original = (Path(corpus["folder"]) / "graph.json").read_bytes()
    cases = []
    for i, (name, damaged) in enumerate(mutations(original, scale["graph"], seed + 60)):
        path = folder / f"graph-{i}.json"
        path.write_bytes(damaged)
        try:
            document = json.loads(damaged)
            expect = ("valid?", _follows(document))
        except (ValueError, UnicodeDecodeError) as err:
            expect = ("invalid", str(err))
        cases.append(Case("graph JSON", name, {"op": "graph", "path": str(path)}, path, expect))
    return cases


def build_cases(corpus, folder, scale_name, seed, baseline):
    scale = SCALES[scale_name]
    folder.mkdir(parents=True, exist_ok=True)
    return (
        _data_cases(corpus, folder, scale, seed)
        + _snapshot_cases(corpus, folder, scale, seed, baseline)
        + _plain_cases(corpus, folder, scale, seed)
        + _layer_cases(corpus, folder, scale, seed)
        + _graph_cases(corpus, folder, scale, seed)
    )
