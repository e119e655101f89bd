# The public API of `cellshapes`, loaded lazily (cellshapes/__init__.py: lazy_loader.attach_stub).
# Every `from .module import name` here is one public name; type checkers read it as-is.
from .config import PROFILES, ModelConfig, TrainConfig, model_config, train_config
from .errors import (CellshapesError, CheckpointError, DatasetFormatError, InputError,
                     InputFileNotFoundError, OutputExistsError, ResourceError)
from .inference.evaluate import evaluate_run
from .inference.fit import fit_run
from .inference.generate import generate_run
from .inference.grid import GridOptions, sequence_sdf
from .inference.reconstruct import load_run, reconstruct_run
from .io import SDFSequence, dataset_info, read_dataset, read_masks, write_dataset
from .io.meshes import save_mesh
from .measure.compare import compare_path, compare_shapes
from .measure.mesh import mesh_from_volume
from .measure.metrics import describe_sequence, describe_volume, dice
from .measure.protrusion import protrusion_recall
from .measure.surface import assd, hd95, surface_dice
from .model import AutoDecoder, Decoder
from .phantoms import make_sequence, write_phantoms
from .prepare import export_reference, prepare_dataset
from .pretrained import load_pretrained
from .sdf import mask_to_sdf

__all__ = [
    "assd", "AutoDecoder", "CellshapesError", "CheckpointError", "compare_path",
    "compare_shapes", "dataset_info", "DatasetFormatError", "Decoder", "describe_sequence",
    "describe_volume", "dice", "evaluate_run", "export_reference", "fit_run", "generate_run",
    "GridOptions", "hd95", "InputError", "InputFileNotFoundError", "load_pretrained",
    "load_run", "make_sequence", "mask_to_sdf", "mesh_from_volume", "model_config",
    "ModelConfig", "OutputExistsError", "prepare_dataset", "PROFILES", "protrusion_recall",
    "read_dataset", "read_masks", "reconstruct_run", "ResourceError", "save_mesh",
    "SDFSequence", "sequence_sdf", "surface_dice", "train_config", "TrainConfig",
    "write_dataset", "write_phantoms",
]

__version__: str
