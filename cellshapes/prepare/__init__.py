"""Dataset preparation: masks or reference files -> one prepared SDF dataset, and back.

:func:`prepare_dataset` (:mod:`.dataset`) turns masks (TIFF, CTC folders, label videos)
and reference ``sdf_vid`` files (:mod:`.reference`) into the dataset training reads, in
three steps: :func:`plan_dataset` (:mod:`.plan`), :func:`build_dataset`,
:func:`write_prepared`; :func:`export_reference` writes a dataset in the reference
implementation's layout.
"""
from cellshapes.prepare.dataset import (MARGIN, PreparedDataset, build_dataset, prepare_dataset,
                                        write_prepared)
from cellshapes.prepare.plan import PreparePlan, plan_dataset
from cellshapes.prepare.reference import REFERENCE_CLAMP_VOXELS, export_reference, import_reference

__all__ = ["prepare_dataset", "plan_dataset", "build_dataset", "write_prepared",
           "PreparePlan", "PreparedDataset", "export_reference", "import_reference", "MARGIN",
           "REFERENCE_CLAMP_VOXELS"]
