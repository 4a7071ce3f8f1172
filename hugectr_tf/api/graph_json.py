"""HugeCTR's model-graph JSON (`graph_to_json` / `construct_from_json`), layer by layer.

Schema as HugeCTR 3.1 writes it: `{"layers": [...]}` whose first entry is the Data layer
(`label`, `dense`, `sparse`), then one entry per embedding (`sparse_embedding_hparam`,
`optimizer`), then the dense layers with `type`, `bottom`, `top` and their parameter blocks
(`fc_param`, `mc_param`, `bn_param`, `elu_param`, ...).
"""

from hugectr_tf.api.config import (
    DataReaderSparseParam,
    DenseLayer,
    Input,
    OptParamsPy,
    SparseEmbedding,
)
from hugectr_tf.api.enums import Embedding_t, Initializer_t, Layer_t, Optimizer_t, Update_t

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
    )


def _inits(layer, block):
    if layer.weight_init_type != Initializer_t.Default:
        block["weight_init"] = layer.weight_init_type.value
    if layer.bias_init_type != Initializer_t.Default:
        block["bias_init"] = layer.bias_init_type.value
    return block


def dense_to_json(layer):
    t = layer.layer_type
    out = {
        "type": t.value,
        "bottom": _one_or_list(layer.bottom_names),
        "top": _one_or_list(layer.top_names),
    }
    if t == Layer_t.BatchNorm:
        bn = {"factor": layer.factor, "eps": layer.eps}
        if layer.gamma_init_type != Initializer_t.Default:
            bn["gamma_init"] = layer.gamma_init_type.value
        if layer.beta_init_type != Initializer_t.Default:
            bn["beta_init"] = layer.beta_init_type.value
        out["bn_param"] = bn
    elif t == Layer_t.Dropout:
        out["rate"] = layer.dropout_rate
    elif t == Layer_t.ELU:
        out["elu_param"] = {"alpha": layer.elu_alpha}
    elif t in (Layer_t.InnerProduct, Layer_t.FusedInnerProduct):
        out["fc_param"] = _inits(layer, {"num_output": layer.num_output})
    elif t == Layer_t.MultiCross:
        out["mc_param"] = _inits(layer, {"num_layers": layer.num_layers})
    elif t == Layer_t.Reshape:
        if layer.selected:
            out["selected"] = list(layer.selected_slots)
        else:
            out["leading_dim"] = layer.leading_dim
            out["time_step"] = layer.time_step
    elif t == Layer_t.Slice:
        out["ranges"] = [list(r) for r in layer.ranges]
    elif t == Layer_t.WeightMultiply:
        out["weight_dims"] = list(layer.weight_dims)
        if layer.weight_init_type != Initializer_t.Default:
            out["weight_init"] = layer.weight_init_type.value
    elif t == Layer_t.FmOrder2:
        out["out_dim"] = layer.out_dim
    elif t in (Layer_t.ReduceSum, Layer_t.ReduceMean):
        out["axis"] = layer.axis
    elif t == Layer_t.Gather:
        out["indices"] = list(layer.indices)
    elif t == Layer_t.GRU:
        out["gru_param"] = _inits(
            layer,
            {
                "num_output": layer.num_output,
                "batchsize": layer.batchsize,
                "SeqLength": layer.SeqLength,
                "vector_size": layer.vector_size,
            },
        )
    elif t == Layer_t.PReLU_Dice:
        out["prelu_dice_param"] = {"elu_alpha": layer.elu_alpha, "eps": layer.eps}
    elif t == Layer_t.Scale:
        out["scale_param"] = {"axis": layer.axis, "factor": layer.factor}
    elif t == Layer_t.MultiCrossEntropyLoss and layer.target_weight_vec:
        out["target_weight"] = list(layer.target_weight_vec)
    if (
        t
        in (
            Layer_t.BinaryCrossEntropyLoss,
            Layer_t.CrossEntropyLoss,
            Layer_t.MultiCrossEntropyLoss,
        )
        and layer.use_regularizer
    ):
        out["regularizer"] = layer.regularizer_type.value
        out["lambda"] = layer.lambda_
    return out


def _init_kwargs(block):
    kwargs = {}
    if "weight_init" in block:
        kwargs["weight_init_type"] = block["weight_init"]
    if "bias_init" in block:
        kwargs["bias_init_type"] = block["bias_init"]
    return kwargs


def dense_from_json(entry):
    t = Layer_t.parse(entry["type"], "type")
    kw = {}
    if t == Layer_t.BatchNorm:
        bn = entry["bn_param"]
        kw.update(factor=bn["factor"], eps=bn["eps"])
        if "gamma_init" in bn:
            kw["gamma_init_type"] = bn["gamma_init"]
        if "beta_init" in bn:
            kw["beta_init_type"] = bn["beta_init"]
    elif t == Layer_t.Dropout:
        kw["dropout_rate"] = entry.get("rate", 0.5)
    elif t == Layer_t.ELU:
        kw["elu_alpha"] = entry["elu_param"]["alpha"]
    elif t in (Layer_t.InnerProduct, Layer_t.FusedInnerProduct):
        kw.update(num_output=entry["fc_param"]["num_output"], **_init_kwargs(entry["fc_param"]))
    elif t == Layer_t.MultiCross:
        kw.update(num_layers=entry["mc_param"]["num_layers"], **_init_kwargs(entry["mc_param"]))
    elif t == Layer_t.Reshape:
        if "selected" in entry:
            kw.update(selected=True, selected_slots=list(entry["selected"]))
        else:
            kw.update(leading_dim=entry["leading_dim"], time_step=entry.get("time_step", 0))
    elif t == Layer_t.Slice:
        kw["ranges"] = [tuple(r) for r in entry["ranges"]]
    elif t == Layer_t.WeightMultiply:
        kw.update(weight_dims=list(entry["weight_dims"]), **_init_kwargs(entry))
    elif t == Layer_t.FmOrder2:
        kw["out_dim"] = entry["out_dim"]
    elif t in (Layer_t.ReduceSum, Layer_t.ReduceMean):
        kw["axis"] = entry["axis"]
    elif t == Layer_t.Gather:
        kw["indices"] = list(entry["indices"])
    elif t == Layer_t.GRU:
        g = entry["gru_param"]
        kw.update(
            num_output=g["num_output"],
            batchsize=g["batchsize"],
            SeqLength=g["SeqLength"],
            vector_size=g["vector_size"],
            **_init_kwargs(g),
        )
    elif t == Layer_t.PReLU_Dice:
        p = entry["prelu_dice_param"]
        kw.update(elu_alpha=p.get("elu_alpha", p.get("alpha", 1.0)), eps=p["eps"])
    elif t == Layer_t.Scale:
        kw.update(axis=int(entry["scale_param"]["axis"]), factor=entry["scale_param"]["factor"])
    elif t == Layer_t.MultiCrossEntropyLoss:
        kw["target_weight_vec"] = list(entry.get("target_weight", []))
    if "regularizer" in entry:
        kw.update(use_regularizer=True, regularizer_type=entry["regularizer"])
        kw["lambda"] = entry["lambda"]
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
