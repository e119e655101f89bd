"""cellshapes: generative modelling of time-evolving 3D cells with SO(3)-equivariant
implicit neural representations (Wiesner et al., Medical Image Analysis 2024).

The public API is importable from here (``from cellshapes import read_masks, dice``);
each name lives in the module of its concept and is loaded on first use by
`lazy_loader <https://scientific-python.org/specs/spec-0001/>`_ from the stub
``cellshapes/__init__.pyi`` (as scikit-image does), so that ``import cellshapes`` stays
light (no torch, no VTK) and a GPU box without VTK can train. The stub is also what type
checkers and IDEs read.

========================  =================================================================
configuration             :class:`ModelConfig`, :class:`TrainConfig`, :func:`model_config`,
                          :func:`train_config`, :data:`PROFILES`
model                     :class:`AutoDecoder`, :class:`Decoder`
inference                 :func:`load_run`, :func:`reconstruct_run`, :func:`evaluate_run`,
                          :func:`fit_run`, :func:`generate_run`, :func:`sequence_sdf`,
                          :class:`GridOptions`, :func:`load_pretrained`
data                      :func:`read_masks`, :func:`read_dataset`, :func:`write_dataset`,
                          :class:`SDFSequence`, :func:`dataset_info`,
                          :func:`prepare_dataset`, :func:`export_reference`,
                          :func:`mask_to_sdf`, :func:`make_sequence`, :func:`write_phantoms`
measurement               :func:`dice`, :func:`describe_volume`, :func:`describe_sequence`,
                          :func:`mesh_from_volume`, :func:`save_mesh`
comparison                :func:`compare_shapes`, :func:`compare_path`, :func:`hd95`,
                          :func:`assd`, :func:`surface_dice`, :func:`protrusion_recall`
errors                    :class:`CellshapesError` and its subclasses
========================  =================================================================

Training is :func:`cellshapes.training.loop.train`.
"""
import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
