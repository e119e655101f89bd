"""Dataset preparation: masks or reference files -> one prepared SDF dataset, and back.

:func:`prepare_dataset` (:mod:`.dataset`) turns masks (TIFF, CTC folders, label videos)
and reference ``sdf_vid`` files (:mod:`.reference`) into the dataset training reads;
:func:`export_reference` writes a dataset in the reference implementation's layout.
"""
from cellshapes.prepare.dataset import MARGIN, prepare_dataset
from cellshapes.prepare.reference import REFERENCE_CLAMP_VOXELS, export_reference, import_reference

__all__ = ["prepare_dataset", "export_reference", "import_reference", "MARGIN",
           "REFERENCE_CLAMP_VOXELS"]
