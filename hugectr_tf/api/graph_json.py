"""HugeCTR's model-graph JSON (`graph_to_json` / `construct_from_json`), layer by layer.

Schema as HugeCTR 3.1 writes it: `{"layers": [...]}` whose first entry is the Data layer
(`label`, `dense`, `sparse`), then one entry per embedding (`sparse_embedding_hparam`,
`optimizer`), then the dense layers with `type`, `bottom`, `top` and their parameter blocks
(`fc_param`, `mc_param`, `bn_param`, `elu_param`, ...).
"""

from enum import Enum

from hugectr_tf.config import (
    DENSE_DEFAULTS,
    DENSE_LAYER_ARGUMENTS,
    DataReaderSparseParam,
    DenseLayer,
    Embedding_t,
    HybridEmbeddingParam,
    Input,
    Layer_t,
    Optimizer_t,
    OptParamsPy,
    SparseEmbedding,
    Update_t,
)

_MISSING = object()
# Spellings of older files that are still read.
_JSON_ALIASES = {"prelu_dice_param.elu_alpha": "prelu_dice_param.alpha"}

_OPT_HPARAM_BLOCK = {
    Optimizer_t.Adam: ("adam_hparam", ("beta1", "beta2", "epsilon")),
    Optimizer_t.Adagrad: ("adagrad_hparam", ("initial_accu_value", "epsilon")),
    Optimizer_t.MomentumSGD: ("momentum_sgd_hparam", ("momentum_factor",)),
    Optimizer_t.Nesterov: ("nesterov_hparam", ("momentum_factor",)),
    Optimizer_t.SGD: ("sgd_hparam", ("atomic_update",)),
}


def _one_or_list(names):
    return names[0] if len(names) == 1 else list(names)


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def input_to_json(inp):
    sparse = [
        {
            "top": p.sparse_name,
            "type": "DistributedSlot",
            "nnz_per_slot": p.nnz_per_slot,
            "is_fixed_length": p.is_fixed_length,
            "slot_num": p.slot_num,
        }
        for p in inp.data_reader_sparse_param_array
    ]
    return {
        "type": "Data",
        "label": {"top": inp.label_name, "label_dim": inp.label_dim},
        "dense": {"top": inp.dense_name, "dense_dim": inp.dense_dim},
        "sparse": sparse,
    }


def input_from_json(entry):
    params = []
    for s in entry.get("sparse", []):
        # Not used by the readers here, but a value HugeCTR does not know is a damaged file.
        kind = s.get("type", "DistributedSlot")
        if kind not in ("DistributedSlot", "LocalizedSlot"):
            raise ValueError(
                f"sparse input {s.get('top')!r} of the Data layer has type {kind!r}; HugeCTR "
                "knows 'DistributedSlot' and 'LocalizedSlot'"
            )
        nnz = s.get("nnz_per_slot", s.get("max_nnz", 1))
        fixed = bool(s.get("is_fixed_length", False))
        params.append(DataReaderSparseParam(s["top"], nnz, fixed, s["slot_num"]))
    return Input(
        label_dim=entry["label"]["label_dim"],
        label_name=entry["label"]["top"],
        dense_dim=entry["dense"]["dense_dim"],
        dense_name=entry["dense"]["top"],
        data_reader_sparse_param_array=params,
    )


def optimizer_to_json(opt):
    block, fields = _OPT_HPARAM_BLOCK[opt.optimizer_type]
    return {
        "type": opt.optimizer_type.value,
        "update_type": opt.update_type.value,
        block: {f: getattr(opt, f) for f in fields},
    }


def optimizer_from_json(entry):
    opt_type = Optimizer_t.parse(entry["type"], "optimizer.type")
    block, fields = _OPT_HPARAM_BLOCK[opt_type]
    values = {f: entry[block][f] for f in fields if f in entry.get(block, {})}
    return OptParamsPy(
        optimizer_type=opt_type,
        update_type=Update_t.parse(entry.get("update_type", "Global"), "optimizer.update_type"),
        **values,
    )


def embedding_to_json(emb, optimizer):
    hparam = {
        "workspace_size_per_gpu_in_mb": emb.workspace_size_per_gpu_in_mb,
        "embedding_vec_size": emb.embedding_vec_size,
        "combiner": emb.combiner,
    }
    if emb.slot_size_array:
        hparam["slot_size_array"] = list(emb.slot_size_array)
    if emb.embedding_type == Embedding_t.HybridSparseEmbedding:
        param = vars(emb.hybrid_embedding_param)
        hparam.update({name: _to_json_value(value) for name, value in param.items()})
    return {
        "type": emb.embedding_type.value,
        "bottom": emb.bottom_name,
        "top": emb.sparse_embedding_name,
        "sparse_embedding_hparam": hparam,
        "optimizer": optimizer_to_json(optimizer),
    }


def embedding_from_json(entry):
    hparam = entry["sparse_embedding_hparam"]
    return SparseEmbedding(
        embedding_type=Embedding_t.parse(entry["type"], "type"),
        workspace_size_per_gpu_in_mb=hparam.get("workspace_size_per_gpu_in_mb", 1),
        embedding_vec_size=hparam["embedding_vec_size"],
        combiner=hparam.get("combiner", "sum"),
        sparse_embedding_name=entry["top"],
        bottom_name=entry["bottom"],
        slot_size_array=list(hparam.get("slot_size_array", [])),
        optimizer=optimizer_from_json(entry["optimizer"]) if "optimizer" in entry else None,
        **_hybrid_from_json(hparam),
    )


def _hybrid_from_json(hparam):
    """{"hybrid_embedding_param": ...} when the entry holds HugeCTR's hybrid fields, else {}."""
    names = list(HybridEmbeddingParam.__dataclass_fields__)
    if not all(n in hparam for n in names):
        return {}
    return {"hybrid_embedding_param": HybridEmbeddingParam(*(hparam[n] for n in names))}


def _get_path(entry, path):
    node = entry
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set_path(entry, path, value):
    *parents, last = path.split(".")
    node = entry
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _to_json_value(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v) for v in value]
    return value


def _written(layer, arg):
    """Whether `arg` of `layer` goes into the JSON entry (table flags plus two layouts)."""
    if arg.json is None:
        return False
    if layer.layer_type == Layer_t.Reshape:
        # Selected mode stores only the slots; the default mode only the dimensions.
        return (arg.name == "selected_slots") == bool(layer.selected)
    if arg.name in ("regularizer_type", "lambda"):
        return bool(layer.use_regularizer)
    return not arg.optional or layer.argument(arg.name) != DENSE_DEFAULTS[arg.name]


def dense_to_json(layer):
    """The graph JSON entry of a `DenseLayer`, from `DENSE_LAYER_ARGUMENTS`."""
    out = {
        "type": layer.layer_type.value,
        "bottom": _one_or_list(layer.bottom_names),
        "top": _one_or_list(layer.top_names),
    }
    for arg in DENSE_LAYER_ARGUMENTS[layer.layer_type]:
        if _written(layer, arg):
            _set_path(out, arg.json, _to_json_value(layer.argument(arg.name)))
    return out


def dense_from_json(entry):
    """The `DenseLayer` of a graph JSON entry, from `DENSE_LAYER_ARGUMENTS`."""
    t = Layer_t.parse(entry["type"], "type")
    kw = {}
    for arg in DENSE_LAYER_ARGUMENTS[t]:
        if arg.json is None:
            continue
        value = _get_path(entry, arg.json)
        if value is _MISSING and arg.json in _JSON_ALIASES:
            value = _get_path(entry, _JSON_ALIASES[arg.json])
        if value is not _MISSING:
            kw[arg.name] = value
    if t == Layer_t.Reshape and "selected_slots" in kw:
        kw["selected"] = True
    if "regularizer_type" in kw:
        kw["use_regularizer"] = True
    if "ranges" in kw:
        kw["ranges"] = [tuple(r) for r in kw["ranges"]]
    return DenseLayer(t, _as_list(entry["bottom"]), _as_list(entry["top"]), **kw)


def graph_from_json(document, include_dense_network=True):
    """Returns [Input, SparseEmbedding..., DenseLayer...] in file order."""
    layers = document.get("layers")
    if not isinstance(layers, list) or not layers or layers[0].get("type") != "Data":
        raise ValueError("graph JSON must hold `layers` whose first entry has type 'Data'")
    out = [input_from_json(layers[0])]
    embedding_types = {e.value for e in Embedding_t}
    for entry in layers[1:]:
        if entry.get("type") in embedding_types:
            out.append(embedding_from_json(entry))
        elif include_dense_network:
            out.append(dense_from_json(entry))
    return out
