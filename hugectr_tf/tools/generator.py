"""Synthetic click data in HugeCTR's formats with a known label model (and so a known best AUC).

Each record has a label, `dense_dim` dense features and one key list per slot. Keys are drawn per
slot from a power law over the slot's vocabulary (rank r has probability proportional to
(r + 1) ** -power_law_alpha); multi-hot slots draw 0..nnz keys (so slots can be empty). The label
is Bernoulli(sigmoid(logit)) with

    logit = bias + sum over slots and keys of w_slot[key] + dense_z @ v
            + cross * (sum of u0[keys of slot 0]) * (sum of u1[keys of slot 1])

where dense_z are the centred log(x + 1) dense features and the bias gives about 25% positives
(as Criteo). Weights are drawn once from the
seed. Because the true probabilities are known, `bayes_auc` (the AUC of the true probabilities on
the evaluation set, by the package's exact AUC) is the best AUC any model can reach there.
"""

import json
import os

import numpy as np

from hugectr_tf.api.metrics import exact_auc
from hugectr_tf.config import (
    Check_t,
    DataReaderParams,
    DataReaderSparseParam,
    DataReaderType_t,
    Input,
    slot_offsets,
)
from hugectr_tf.data.file_list import write_file_list
from hugectr_tf.data.keyset import default_keyset_path, distinct_keys, write_keyset
from hugectr_tf.data.writers import write_norm, write_parquet_folder, write_raw

# Criteo-shaped vocabulary sizes, scaled down so a model learns them in minutes on a CPU.
DEFAULT_SLOT_SIZES = [
    1000, 500, 10000, 5000, 200, 20, 3000, 600, 3, 4000, 2000, 8000, 2500,
    25, 2000, 7000, 10, 1500, 1800, 4, 6000, 15, 12, 5000, 60, 3000,
]  # fmt: skip
DEFAULT_MULTI_HOT = {24: 3, 25: 3}  # slot -> max nnz (Norm only; other slots one-hot)


class DataGenerator:
    """Writes train and eval data with a planted logistic label model.

    Args:
        output_dir: String. Folder for `train/` and `eval/` (created).
        data_reader_type: `DataReaderType_t` or its name: Norm, Raw or Parquet.
        num_train_samples, num_eval_samples: Integers. Records of each set. Give training at
            least steps x batch size records: a model that sees each record many times overfits
            and stays far below `bayes_auc`.
        num_files: Integer. Train files (Norm, Parquet); eval gets max(1, num_files // 4).
            Raw writes one file per set, as HugeCTR expects.
        dense_dim: Integer. Dense features (13 as Criteo).
        slot_size_array: List of vocabulary sizes, one per slot (default: 26 Criteo-like).
        nnz_per_slot: List of max keys per slot (Norm only; Raw and Parquet are one-hot).
            Default: slots 24 and 25 draw 0..3 keys, the others exactly one.
        one_hot: Boolean. Every slot holds exactly one key, in every format (the default
            multi-hot slots 24 and 25 included). `nnz_per_slot`, if given, must then be all 1.
        power_law_alpha: Float. Key popularity exponent.
        signal: Float. Scale of all weights (larger = easier, higher best AUC).
        check_type: `Check_t` for Norm files.
        i64_input_key: Boolean. Norm keys as int64.
        float_label_dense: Boolean. Raw: float32 label/dense words, else int32 (dense as raw
            counts, which the reader turns into log(x + 1)).
        seed: Integer.
        num_file_lists: Integer. Norm: also split the train files into this many file lists
            `train/file_list.<i>.txt` (model oversubscription trains them pass by pass).
        keyset: Boolean. Write the keyset of each train file list next to it (`<list>.keyset`
            without `.txt`: the distinct table keys, int64 if `i64_input_key` else uint32).

    After `generate()`: `train_source`, `eval_source` (what DataReaderParams needs),
    `slot_size_array`, `bayes_auc`, `eval_probabilities`, `eval_labels`, `train_sources` (the
    file lists of `num_file_lists`), `train_keysets` (their keysets, with `keyset`) and
    `train_keyset` (the keyset of `train_source`); `input()` and
    `reader_params()` build matching HugeCTR objects. Norm keys carry per-slot offsets (prefix
    sums of `slot_size_array`) so slots never share a key; Raw and Parquet files store per-slot
    ids and their readers add the offsets from `slot_size_array` (which `reader_params()` sets),
    so all three formats read back the same keys.
    """

    def __init__(
        self,
        output_dir,
        data_reader_type=DataReaderType_t.Norm,
        *,
        num_train_samples=1_000_000,
        num_eval_samples=50_000,
        num_files=4,
        dense_dim=13,
        slot_size_array=None,
        nnz_per_slot=None,
        one_hot=False,
        power_law_alpha=1.2,
        signal=1.0,
        check_type=Check_t.Sum,
        i64_input_key=False,
        float_label_dense=True,
        seed=0,
        num_file_lists=1,
        keyset=False,
    ):
        self.output_dir = os.fspath(output_dir)
        self.data_reader_type = DataReaderType_t.parse(data_reader_type, "data_reader_type")
        if self.data_reader_type == DataReaderType_t.RawAsync:
            self.data_reader_type = DataReaderType_t.Raw  # RawAsync reads Raw files
        self.check_type = Check_t.parse(check_type, "check_type")
        for value, name in (
            (num_train_samples, "num_train_samples"),
            (num_eval_samples, "num_eval_samples"),
            (num_files, "num_files"),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not isinstance(num_file_lists, int) or not 0 < num_file_lists <= num_files:
            raise ValueError(
                f"`num_file_lists` must be an integer in [1, num_files={num_files}]. Received: "
                f"num_file_lists={num_file_lists!r}"
            )
        if num_file_lists > 1 and self.data_reader_type != DataReaderType_t.Norm:
            raise ValueError(
                "`num_file_lists` > 1 splits Norm file lists; Raw and Parquet write one source "
                f"per set. Received: data_reader_type={self.data_reader_type.value}"
            )
        self.num_file_lists = num_file_lists
        self.keyset = bool(keyset)
        self.num_train_samples = num_train_samples
        self.num_eval_samples = num_eval_samples
        self.num_files = num_files
        self.dense_dim = int(dense_dim)
        self.slot_size_array = list(slot_size_array or DEFAULT_SLOT_SIZES)
        if any(int(s) <= 0 for s in self.slot_size_array):
            raise ValueError(f"`slot_size_array` entries must be positive: {self.slot_size_array}")
        slots = len(self.slot_size_array)
        if not isinstance(one_hot, bool):
            raise ValueError(f"`one_hot` must be a boolean. Received: one_hot={one_hot!r}")
        if one_hot and nnz_per_slot is not None and any(n != 1 for n in nnz_per_slot):
            raise ValueError(
                "`one_hot=True` needs every `nnz_per_slot` entry to be 1. "
                f"Received: nnz_per_slot={nnz_per_slot}"
            )
        if nnz_per_slot is None:
            multi_hot = {} if one_hot or slots != 26 else DEFAULT_MULTI_HOT
            nnz_per_slot = [multi_hot.get(s, 1) for s in range(slots)]
        if self.data_reader_type != DataReaderType_t.Norm:
            nnz_per_slot = [1] * slots  # Raw and Parquet hold exactly one key per slot
        if len(nnz_per_slot) != slots or any(n < 1 for n in nnz_per_slot):
            raise ValueError(
                f"`nnz_per_slot` needs {slots} entries >= 1. Received: nnz_per_slot={nnz_per_slot}"
            )
        self.nnz_per_slot = list(nnz_per_slot)
        self.power_law_alpha = float(power_law_alpha)
        self.i64_input_key = bool(i64_input_key)
        self.float_label_dense = bool(float_label_dense)
        self.seed = seed
        self._init_model(float(signal))
        self.train_source = self.eval_source = None
        self.train_sources, self.train_keysets, self.train_keyset = [], [], None
        self.bayes_auc = None
        self.eval_probabilities = self.eval_labels = None

    def _init_model(self, signal):
        rng = np.random.default_rng([self.seed, 1])
        self.offsets = slot_offsets(self.slot_size_array)
        scale = rng.uniform(0.2, 1.0, len(self.slot_size_array)) * 0.45 * signal
        self.key_weights = [rng.normal(0, s, n) for s, n in zip(scale, self.slot_size_array)]
        self.cross_u = [rng.normal(0, 1, n) for n in self.slot_size_array[:2]]
        self.cross = 0.4 * signal if len(self.slot_size_array) >= 2 else 0.0
        self.dense_weights = rng.normal(0, 0.3 * signal, self.dense_dim)
        self.dense_mu = rng.uniform(0.0, 4.0, self.dense_dim)  # log-scale of the raw counts
        self.bias = 0.0
        self.key_probs = []
        for n in self.slot_size_array:
            p = (np.arange(n) + 1.0) ** -self.power_law_alpha
            self.key_probs.append(p / p.sum())
        # Pick the bias for a 25% positive rate (as Criteo) by bisection on a fixed sample.
        logit = np.log(self._probabilities(20_000, np.random.default_rng([self.seed, 3])))
        logit -= np.log1p(-np.exp(logit))
        lo, hi = -10.0, 10.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(logit + mid)))) < 0.25 else (lo, mid)
        self.bias = (lo + hi) / 2

    def _probabilities(self, n, rng):
        return self.sample(n, rng)["prob"]

    def sample(self, n, rng):
        """n records: dict of label [n,1], dense [n,d] (log(x+1)), counts [n,d] (raw x),
        nnz [n,slots], local keys (flat, record-major), probabilities [n]."""
        slots = len(self.slot_size_array)
        counts = np.floor(np.exp(rng.normal(self.dense_mu, 1.0, (n, self.dense_dim))) - 0.5)
        counts = np.maximum(counts, 0).astype(np.int64)
        dense = np.log1p(counts).astype(np.float32)
        nnz = np.empty((n, slots), np.int64)
        per_slot = []
        logit = np.full(n, self.bias)
        cross_sums = []
        for s in range(slots):
            m = self.nnz_per_slot[s]
            nnz[:, s] = 1 if m == 1 else rng.integers(0, m + 1, n)
            keys = rng.choice(
                self.slot_size_array[s], size=int(nnz[:, s].sum()), p=self.key_probs[s]
            )
            owner = np.repeat(np.arange(n), nnz[:, s])
            logit += np.bincount(owner, self.key_weights[s][keys], minlength=n)
            if s < 2:
                cross_sums.append(np.bincount(owner, self.cross_u[s][keys], minlength=n))
            per_slot.append((owner, keys))
        if len(cross_sums) == 2:
            logit += self.cross * cross_sums[0] * cross_sums[1]
        z = (dense - self.dense_mu) / 1.0
        logit += z @ self.dense_weights
        prob = 1.0 / (1.0 + np.exp(-logit))
        label = (rng.random(n) < prob).astype(np.float32)[:, None]
        # Flatten keys record-major, slot-major: stable sort by (record, slot).
        owners = np.concatenate([o * slots + s for s, (o, _) in enumerate(per_slot)])
        all_keys = np.concatenate([k for _, k in per_slot])
        order = np.argsort(owners, kind="stable")
        slot_of = np.concatenate([np.full(len(k), s) for s, (_, k) in enumerate(per_slot)])[order]
        return {
            "label": label,
            "dense": dense,
            "counts": counts,
            "nnz": nnz,
            "keys": all_keys[order],
            "slot_of_key": slot_of,
            "prob": prob,
        }

    def _write_set(self, name, num, num_files, rng):
        folder = os.path.join(self.output_dir, name)
        os.makedirs(folder, exist_ok=True)
        bounds = np.linspace(0, num, num_files + 1).astype(int)
        kind = self.data_reader_type
        if kind == DataReaderType_t.Raw:
            bounds = np.array([0, num])
        labels, probs, parts, files, file_keys = [], [], [], [], []
        for i in range(len(bounds) - 1):
            rec = self.sample(int(bounds[i + 1] - bounds[i]), rng)
            labels.append(rec["label"][:, 0])
            probs.append(rec["prob"])
            # Table keys as every reader yields them: local ids plus the slot's offset.
            file_keys.append(distinct_keys(rec["keys"] + self.offsets[rec["slot_of_key"]]))
            n = len(rec["label"])
            if kind == DataReaderType_t.Norm:
                path = os.path.abspath(os.path.join(folder, f"part_{i}.bin"))
                keys = rec["keys"] + self.offsets[rec["slot_of_key"]]
                write_norm(
                    path,
                    rec["label"],
                    rec["dense"],
                    rec["nnz"],
                    keys,
                    check_sum=self.check_type == Check_t.Sum,
                    i64_input_key=self.i64_input_key,
                )
                files.append(path)
            elif kind == DataReaderType_t.Raw:
                path = os.path.abspath(os.path.join(folder, f"{name}_data.bin"))
                dense = rec["dense"] if self.float_label_dense else rec["counts"]
                keys = rec["keys"].reshape(n, -1)
                write_raw(path, rec["label"], dense, keys, float_label_dense=self.float_label_dense)
                files.append(path)
            else:
                parts.append((rec["label"], rec["dense"], rec["keys"].reshape(n, -1)))
        if kind == DataReaderType_t.Norm:
            source = os.path.join(folder, "file_list.txt")
            write_file_list(source, files)
            if name == "train":
                self._write_file_lists(folder, files, file_keys)
        elif kind == DataReaderType_t.Raw:
            source = files[0]
        else:
            source = write_parquet_folder(
                folder,
                parts,
                label_dim=1,
                dense_dim=self.dense_dim,
                slot_num=len(self.slot_size_array),
            )
        if name == "train" and self.keyset:
            self.train_keyset = default_keyset_path(source)
            write_keyset(self.train_keyset, np.concatenate(file_keys), self.i64_input_key)
        return source, np.concatenate(labels), np.concatenate(probs)

    def _write_file_lists(self, folder, files, file_keys):
        """`train/file_list.<i>.txt` over consecutive files (with keysets, when asked)."""
        if self.num_file_lists == 1:
            return
        groups = np.array_split(np.arange(len(files)), self.num_file_lists)
        for i, group in enumerate(groups):
            source = os.path.join(folder, f"file_list.{i}.txt")
            write_file_list(source, [files[j] for j in group])
            self.train_sources.append(source)
            if self.keyset:
                path = default_keyset_path(source)
                keys = np.concatenate([file_keys[j] for j in group])
                write_keyset(path, keys, self.i64_input_key)
                self.train_keysets.append(path)

    def generate(self):
        """Writes both sets, computes `bayes_auc`, writes `dataset_info.json`; returns self."""
        rng = np.random.default_rng([self.seed, 2])
        self.train_source, _, _ = self._write_set(
            "train", self.num_train_samples, self.num_files, rng
        )
        self.eval_source, self.eval_labels, self.eval_probabilities = self._write_set(
            "eval", self.num_eval_samples, max(1, self.num_files // 4), rng
        )
        self.bayes_auc = exact_auc(self.eval_labels, self.eval_probabilities)
        with open(os.path.join(self.output_dir, "dataset_info.json"), "w") as f:
            json.dump(self.info(), f, indent=1)
        return self

    def info(self):
        """A JSON-able summary: sources, sizes, slot_size_array and the Bayes-optimal AUC."""
        return {
            "data_reader_type": self.data_reader_type.value,
            "source": self.train_source,
            "eval_source": self.eval_source,
            "num_train_samples": self.num_train_samples,
            "num_eval_samples": self.num_eval_samples,
            "check_type": self.check_type.name,
            "i64_input_key": self.i64_input_key,
            "dense_dim": self.dense_dim,
            "slot_size_array": [int(s) for s in self.slot_size_array],
            "nnz_per_slot": self.nnz_per_slot,
            "bayes_auc": self.bayes_auc,
            "train_sources": self.train_sources,
            "train_keysets": self.train_keysets,
            "train_keyset": self.train_keyset,
        }

    def input(self, label_name="label", dense_name="dense", sparse_name="data1"):
        """A HugeCTR `Input` matching the files: one sparse input holding every slot."""
        return Input(
            label_dim=1,
            label_name=label_name,
            dense_dim=self.dense_dim,
            dense_name=dense_name,
            data_reader_sparse_param_array=[
                DataReaderSparseParam(
                    sparse_name,
                    list(self.nnz_per_slot),
                    all(n == 1 for n in self.nnz_per_slot),
                    len(self.slot_size_array),
                )
            ],
        )

    def reader_params(self, **kwargs):
        """`DataReaderParams` for the written files (extra keyword arguments pass through)."""
        if self.train_source is None:
            raise RuntimeError("call generate() before reader_params()")
        args = dict(
            data_reader_type=self.data_reader_type,
            source=[self.train_source],
            eval_source=self.eval_source,
            check_type=self.check_type,
            slot_size_array=[int(s) for s in self.slot_size_array],
            float_label_dense=self.float_label_dense,
        )
        args.update(kwargs)
        return DataReaderParams(**args)
