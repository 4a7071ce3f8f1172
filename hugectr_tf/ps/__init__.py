"""Parameter servers: every row of an embedding table outside the working table.

`HostMemoryParameterServer` (HM-PS) keeps the rows in host memory; `SSDParameterServer` (SSD-PS)
keeps them in the files of a folder, memory-mapped, so a table may be larger than RAM. Both
implement `ParameterServer` (pull a keyset's rows, push rows back, iterate, look rows up) and
read / write HugeCTR's sparse model folders (layout in `hugectr_tf.ps.folder`). Model
oversubscription (`hugectr_tf.api.oversubscription`) trains through them; inference puts an
embedding cache in front of them (`hugectr_tf.inference.cache`).
"""

from hugectr_tf.ps.base import ParameterServer
from hugectr_tf.ps.folder import read_folder, write_folder
from hugectr_tf.ps.host_memory import HostMemoryParameterServer
from hugectr_tf.ps.key_index import KeyIndex
from hugectr_tf.ps.rows import RowBlock, TableSpec
from hugectr_tf.ps.ssd import SSDParameterServer


def open_parameter_server(spec, folder=None, *, use_host_memory_ps=True, readonly=False):
    """A PS for one table.

    Args:
        spec: `TableSpec` of the table.
        folder: Sparse model folder to load (HM-PS) or to work in (SSD-PS; created when absent
            unless `readonly`). None: an empty HM-PS.
        use_host_memory_ps: Boolean. HM-PS (True) or SSD-PS (False), as HugeCTR's `CreateMOS`.
        readonly: Boolean. SSD-PS only: never write to `folder` (inference).
    """
    if use_host_memory_ps:
        return HostMemoryParameterServer(spec, folder)
    if folder is None:
        raise ValueError("the SSD parameter server (use_host_memory_ps=False) needs a folder")
    return SSDParameterServer(spec, folder, create=not readonly, readonly=readonly)


__all__ = [
    "HostMemoryParameterServer",
    "KeyIndex",
    "ParameterServer",
    "RowBlock",
    "SSDParameterServer",
    "TableSpec",
    "open_parameter_server",
    "read_folder",
    "write_folder",
]
