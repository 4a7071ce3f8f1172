"""HugeCTR file lists: the first line is the number of files, then one path per line.

Relative paths are resolved against the working directory, as HugeCTR does; when a relative path
does not exist there but exists next to the file list, that one is used (so a data folder can be
moved as a whole).
"""

import os


def read_file_list(path):
    """Returns the data file paths of file list `path`, checked to exist.

    Raises FileNotFoundError for a missing list or data file and ValueError for a list whose first
    line is not the count of the paths below it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"file list `{path}` does not exist")
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"file list `{path}` is empty; its first line must be the number of files")
    try:
        count = int(lines[0])
    except ValueError:
        raise ValueError(
            f"file list `{path}`: the first line must be the number of files, got {lines[0]!r}"
        ) from None
    files = lines[1:]
    if count != len(files):
        raise ValueError(
            f"file list `{path}` says {count} files but lists {len(files)}; fix the first line"
        )
    if count == 0:
        raise ValueError(f"file list `{path}` lists no data files")
    base = os.path.dirname(os.path.abspath(path))
    resolved = []
    for i, name in enumerate(files):
        candidate = name
        if not os.path.isabs(name) and not os.path.exists(name):
            beside = os.path.join(base, name)
            if os.path.exists(beside):
                candidate = beside
        if not os.path.isfile(candidate):
            raise FileNotFoundError(
                f"file list `{path}`, line {i + 2}: data file `{name}` does not exist"
            )
        resolved.append(candidate)
    return resolved


def write_file_list(path, files):
    """Writes a HugeCTR file list naming `files` (paths written as given)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(files)}\n")
        for name in files:
            f.write(f"{os.fspath(name)}\n")
