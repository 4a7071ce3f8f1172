"""The manifest of a `save_params_to_files` snapshot, and which files a load accepts.

`save_params_to_files(prefix, iteration)` writes `<prefix>_manifest_<iteration>.json` (format in
embedding/manifest.py): first with `"complete": false` (a save in progress), then every file of
the snapshot, then the manifest again with each file's size and CRC-32. Every file of a snapshot
is named `<stem>_<iteration>.model` (plus sidecars `<file>.non_trainable` / `<file>.json` and the
files inside sparse model folders), so the manifest of any file is found from its name.

Rules a load follows (docs/reliability.md):
- A manifest names the file: the file and all its sidecars must match it, and the save must have
  completed; otherwise the load is refused naming the file.
- No manifest names the file: it loads as a HugeCTR file only when it carries none of this
  project's sidecars (a dense file with `.non_trainable`, a dense optimizer file with `.json`);
  with them it is refused, since what belongs with it can no longer be checked. Sparse model
  folders and optimizer-state files written by this project check themselves (their own manifest
  or checksum) and so still load alone.
"""

import re
from pathlib import Path

from hugectr_tf.embedding import manifest

KIND = "snapshot"
_MEMBER = re.compile(r"^(?P<stem>.*)_(?P<iteration>\d+)\.model$")
# Sidecars this project adds next to HugeCTR's dense files.
SIDECARS = {"dense": ".non_trainable", "opt_dense": ".json"}


def manifest_path(prefix, iteration):
    return f"{prefix}_manifest_{iteration}.json"


def snapshot_names(prefix, iteration, count):
    """The file names of one snapshot of a model with `count` embeddings."""
    return {
        "dense": f"{prefix}_dense_{iteration}.model",
        "opt_dense": f"{prefix}_opt_dense_{iteration}.model",
        "sparse": [f"{prefix}{i}_sparse_{iteration}.model" for i in range(count)],
        "opt_sparse": [f"{prefix}{i}_opt_sparse_{iteration}.model" for i in range(count)],
        "manifest": manifest_path(prefix, iteration),
    }


def _candidate_prefixes(stem):
    """Prefixes whose snapshot could hold a member named `<stem>_<iteration>.model`."""
    out = []
    for tag in ("_opt_dense", "_dense"):
        if stem.endswith(tag):
            out.append(stem[: -len(tag)])
    for tag in ("_opt_sparse", "_sparse"):
        if stem.endswith(tag):
            base = stem[: -len(tag)]  # <prefix><embedding index>; the prefix may end in digits
            k = len(base)
            while k > 0 and base[k - 1].isdigit():
                k -= 1
                out.append(base[:k])
    return list(dict.fromkeys(out))


def _owned(document, name):
    """The manifest entries that belong to member `name`: itself, its sidecars, its folder."""
    return [n for n in document["files"] if n == name or n.startswith((name + ".", name + "/"))]


class Member:
    """A file (or sparse model folder) a load was given, with the snapshot manifest naming it.

    `manifest` is None when no manifest names the file; `check()` then applies the HugeCTR rule.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = None
        self.document = None
        match = _MEMBER.match(self.path.name)
        self.candidates = []
        if match:
            folder, it = self.path.parent, match["iteration"]
            self.candidates = [
                folder / Path(manifest_path(p, it)).name for p in _candidate_prefixes(match["stem"])
            ]
        for candidate in self.candidates:
            if not candidate.exists():
                continue
            document = manifest.read_manifest(candidate, KIND)
            if _owned(document, self.path.name):
                self.manifest, self.document = candidate, document
                break

    def lists(self, suffix):
        """Whether the manifest lists `<file><suffix>` (a sidecar)."""
        return self.document is not None and self.path.name + suffix in self.document["files"]

    def check(self, sidecar=None):
        """Verifies the file against its manifest, or refuses an unlisted file that carries this
        project's `sidecar`. Raises manifest.ManifestError naming the file."""
        if self.document is not None:
            manifest.verify_files(
                self.manifest, self.document, _owned(self.document, self.path.name)
            )
            return
        if sidecar is not None and Path(str(self.path) + sidecar).exists():
            expected = ", ".join(f"`{c}`" for c in self.candidates) or "(none: not a snapshot name)"
            raise manifest.ManifestError(
                f"`{self.path}` has this project's sidecar `{self.path}{sidecar}` but no snapshot "
                f"manifest lists it (looked for {expected}): the save that wrote it did not "
                "finish, or the manifest was removed; save the model again"
            )
