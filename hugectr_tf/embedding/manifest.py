"""Integrity manifests: which files make up a saved set, with their sizes and checksums.

A manifest is a small JSON document written after the files it lists, so its presence says the set
is complete; a reader verifies every listed file before using any of them, so a truncated,
overwritten, mixed or missing file is refused by name instead of loaded:

    {"format": "hugectr_tf.manifest", "version": 1, "kind": "...", "complete": true,
     "step": 40, "files": {"<path relative to the manifest's folder>": {"bytes": n, "crc32": c}},
     "manifest_crc32": c}

`manifest_crc32` is the CRC-32 of the document without that field (keys sorted, no spaces), so
a flipped byte in the manifest itself is caught as well. A save in progress is announced by a
manifest with `"complete": false` written first: a save killed halfway leaves that, and every
file of the set is refused until a save completes.
"""

import json
import os
import uuid
import zlib
from pathlib import Path

FORMAT = "hugectr_tf.manifest"
VERSION = 1
_CHUNK = 1 << 22


class ManifestError(ValueError):
    """A saved set fails its manifest: the message names the file and what is wrong."""


def crc32_bytes(data, crc=0):
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def file_digest(path):
    """{"bytes": size, "crc32": checksum} of the file at `path`."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return {"bytes": size, "crc32": crc & 0xFFFFFFFF}


def write_durable(path, data: bytes):
    """Writes `data` to `path` through a temporary file renamed into place (never half-written)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def write_manifest(path, kind, files, *, complete=True, step=None):
    """Writes a manifest listing `files` ({relative name: digest, or None while incomplete})."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "complete": bool(complete),
        "files": {name: files[name] for name in sorted(files)},
    }
    if step is not None:
        document["step"] = int(step)
    document["manifest_crc32"] = crc32_bytes(_canonical(document))
    write_durable(path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode())


def read_manifest(path, kind):
    """The manifest document at `path`, checked for format, kind, checksum and completeness."""
    path = Path(path)
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"manifest `{path}` is not valid JSON ({err}): it is damaged") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ManifestError(f"`{path}` is not a hugectr_tf manifest (no format {FORMAT!r})")
    stored = document.pop("manifest_crc32", None)
    if stored != crc32_bytes(_canonical(document)):
        raise ManifestError(f"manifest `{path}` fails its own checksum: it is damaged")
    if document.get("version") != VERSION:
        raise ManifestError(
            f"manifest `{path}` has version {document.get('version')!r}; this build reads {VERSION}"
        )
    if document.get("kind") != kind:
        raise ManifestError(
            f"manifest `{path}` describes a {document.get('kind')!r}, not a {kind!r}"
        )
    if document.get("complete") is not True:
        raise ManifestError(
            f"manifest `{path}` says its save did not finish (the process stopped while "
            "writing): the files it lists are incomplete or mixed; save again"
        )
    files = document.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(d, dict) and isinstance(d.get("bytes"), int) and isinstance(d.get("crc32"), int)
        for d in files.values()
    ):
        raise ManifestError(f"manifest `{path}` has no valid `files` table: it is damaged")
    return document


def verify_files(manifest_path, document, names):
    """Checks each relative name in `names` against the manifest: listed, present, same size and
    checksum. Raises ManifestError naming the first file that differs."""
    folder = Path(manifest_path).parent
    for name in names:
        want = document["files"].get(name)
        if want is None:
            raise ManifestError(f"`{folder / name}` is not listed in manifest `{manifest_path}`")
        path = folder / name
        if not path.is_file():
            raise ManifestError(
                f"`{path}` is missing but manifest `{manifest_path}` lists it "
                f"({want['bytes']} bytes): the saved set is incomplete"
            )
        got = file_digest(path)
        if got["bytes"] != want["bytes"]:
            raise ManifestError(
                f"`{path}` holds {got['bytes']} bytes but manifest `{manifest_path}` lists "
                f"{want['bytes']}: the file was truncated or overwritten after the save"
            )
        if got["crc32"] != want["crc32"]:
            raise ManifestError(
                f"`{path}` fails its checksum in manifest `{manifest_path}` (crc32 "
                f"{got['crc32']:08x}, listed {want['crc32']:08x}): the file is damaged or "
                "belongs to another save"
            )
