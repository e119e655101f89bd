"""The isosurface and meshes in um: geometry, orientation, export in four formats, and the
mesh CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import meshio
import numpy as np
import pytest
from skimage import draw
from skimage.measure import mesh_surface_area

from cellshapes.cli import main
from cellshapes.errors import InputError, OutputExistsError
from cellshapes.io.meshes import MESH_FORMATS, mesh_path, save_mesh
from cellshapes.measure import metrics
from cellshapes.measure.mesh import (check_volume, detect_sdf, foreground, isosurface,
                                     mesh_from_volume, to_pyvista)

SPACING = (2.0, 0.5, 0.5)   # (dz, dy, dx) um
AXES = (10.0, 6.0, 4.0)     # semi-axes along z, y, x in um


@pytest.fixture(scope="module")
def ellipsoid_mask() -> np.ndarray:
    return draw.ellipsoid(*AXES, spacing=SPACING)


@pytest.fixture(scope="module")
def ellipsoid_mesh(ellipsoid_mask):
    return mesh_from_volume(ellipsoid_mask, SPACING)


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (verts[faces[:, i]].astype(float) for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


def _extent_xyz(mask: np.ndarray, spacing) -> np.ndarray:
    """Physical size (x, y, z) of the foreground's bounding box, voxel centres."""
    idx = np.nonzero(mask)
    ext_zyx = [(i.max() - i.min()) * s for i, s in zip(idx, spacing)]
    return np.array(ext_zyx[::-1])


def test_mesh_units_order_and_orientation(ellipsoid_mask, ellipsoid_mesh):
    verts, faces = ellipsoid_mesh
    assert verts.dtype == np.float32 and verts.shape[1] == 3
    assert faces.shape[1] == 3 and faces.dtype.kind == "i"
    extent = verts.max(0) - verts.min(0)
    # (x, y, z) order: the longest axis (z, 10 um) is the last column
    np.testing.assert_allclose(extent, _extent_xyz(ellipsoid_mask, SPACING), atol=1.0)
    assert np.argmax(extent) == 2 and np.argmin(extent) == 0
    # the box is centred where the voxels are (voxel 0 at the origin)
    centre_vox = np.array([np.mean(i) for i in np.nonzero(ellipsoid_mask)]) * SPACING
    np.testing.assert_allclose((verts.max(0) + verts.min(0)) / 2, centre_vox[::-1], atol=0.3)
    # outward normals: positive signed volume equal to the voxel-count volume
    vol = metrics.volume(ellipsoid_mask, SPACING)
    assert _signed_volume(verts, faces) == pytest.approx(vol, rel=0.01)
    # same surface as the area in metrics (one shared implementation)
    assert mesh_surface_area(verts, faces) == pytest.approx(
        metrics.surface_area(ellipsoid_mask, SPACING), rel=1e-5)


def test_mesh_of_sdf_and_border_closure():
    n, r = 32, 10.0
    z, y, x = np.ogrid[:n, :n, :n]
    sdf = (np.sqrt((x - 15.5) ** 2 + (y - 15.5) ** 2 + (z - 15.5) ** 2) - r).astype(np.float32)
    v, f = mesh_from_volume(sdf)
    assert mesh_surface_area(v, f) == pytest.approx(4 * math.pi * r**2, rel=0.01)
    assert _signed_volume(v, f) > 0
    # a cell cut by the border still gives a closed (watertight) mesh
    cut = sdf[:, :, :12] <= 0
    for vol in (cut, sdf[:, :, :12]):
        v, f = mesh_from_volume(vol)
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all()
        assert _signed_volume(v, f) > 0


def test_mesh_empty_raises():
    with pytest.raises(InputError, match="empty"):
        mesh_from_volume(np.zeros((8, 8, 8), bool))


@pytest.mark.parametrize("suffix", sorted(MESH_FORMATS))
def test_save_mesh_roundtrip(tmp_path, ellipsoid_mesh, suffix):
    verts, faces = ellipsoid_mesh
    path = tmp_path / f"cell{suffix}"
    assert save_mesh(path, verts, faces) == path
    m = meshio.read(path)
    assert len(m.points) == len(verts)
    tri = np.concatenate([c.data for c in m.cells if c.type == "triangle"])
    assert len(tri) == len(faces)
    np.testing.assert_allclose(m.points.min(0), verts.min(0), atol=1e-4)
    np.testing.assert_allclose(m.points.max(0), verts.max(0), atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp left
    with pytest.raises(OutputExistsError):
        save_mesh(path, verts, faces)
    save_mesh(path, verts[:3], np.array([[0, 1, 2]]), overwrite=True)
    assert len(meshio.read(path).points) == 3


def test_save_mesh_bad_suffix(tmp_path, ellipsoid_mesh):
    with pytest.raises(InputError, match="format"):
        save_mesh(tmp_path / "cell.xyz", *ellipsoid_mesh)
    assert not any(tmp_path.iterdir())


def test_to_pyvista(ellipsoid_mesh):
    pytest.importorskip("pyvista")
    verts, faces = ellipsoid_mesh
    poly = to_pyvista(verts, faces)
    assert poly.n_points == len(verts) and poly.n_cells == len(faces)
    assert poly.area == pytest.approx(mesh_surface_area(verts, faces), rel=1e-4)


def test_importing_mesh_does_not_load_vtk():
    code = ("import sys, cellshapes.measure.mesh, cellshapes.measure.metrics; "
            "bad = [m for m in ('pyvista', 'vtk', 'vtkmodules') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _write_tiff(path, masks: np.ndarray, spacing) -> None:
    import tifffile

    dz, dy, dx = spacing
    tifffile.imwrite(path, masks.astype(np.uint8), imagej=True, resolution=(1 / dx, 1 / dy),
                     metadata={"axes": "TZYX", "spacing": dz, "unit": "um"})


def test_mesh_path_frame_and_range(tmp_path, ellipsoid_mask):
    small = np.zeros_like(ellipsoid_mask)
    small[tuple(slice(s // 2 - 1, s // 2 + 2) for s in small.shape)] = True
    tif = tmp_path / "cell.tif"
    _write_tiff(tif, np.stack([small, ellipsoid_mask]), SPACING)
    info = mesh_path(tif, tmp_path / "f1.ply", frame=1)
    assert info["out"] == str(tmp_path / "f1.ply")
    _, area = draw.ellipsoid_stats(*AXES)
    assert info["area_um2"] == pytest.approx(area, rel=0.03)
    m = meshio.read(tmp_path / "f1.ply")
    assert len(m.points) == info["n_vertices"]
    np.testing.assert_allclose(m.points.max(0) - m.points.min(0),
                               _extent_xyz(ellipsoid_mask, SPACING), atol=1.0)
    with pytest.raises(InputError, match="frame 2"):
        mesh_path(tif, tmp_path / "f2.ply", frame=2)
    with pytest.raises(OutputExistsError):
        mesh_path(tif, tmp_path / "f1.ply", frame=1)


def test_cli_mesh(tmp_path, capsys, ellipsoid_mask):
    tif, out = tmp_path / "cell.tif", tmp_path / "mesh" / "cell.stl"
    _write_tiff(tif, ellipsoid_mask[None], SPACING)
    assert main(["mesh", str(tif), "--out", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    _, area = draw.ellipsoid_stats(*AXES)
    assert info["area_um2"] == pytest.approx(area, rel=0.03)
    m = meshio.read(out)
    assert len(m.points) == info["n_vertices"]
    np.testing.assert_allclose(m.points.max(0) - m.points.min(0),
                               _extent_xyz(ellipsoid_mask, SPACING), atol=1.0)
    # --spacing overrides the file: everything twice as large
    out2 = tmp_path / "cell2.obj"
    assert main(["mesh", str(tif), "--out", str(out2), "--spacing", "4", "1", "1"]) == 0
    info2 = json.loads(capsys.readouterr().out)
    assert info2["area_um2"] == pytest.approx(4 * info["area_um2"], rel=1e-3)


def test_cli_mesh_bad_input(tmp_path, capsys):
    assert main(["mesh", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "m.ply")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "nope.tif" in err

    tif = tmp_path / "empty.tif"
    _write_tiff(tif, np.zeros((1, 6, 6, 6), np.uint8), (1, 1, 1))
    assert main(["mesh", str(tif), "--out", str(tmp_path / "m.ply")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "empty" in err
    assert not (tmp_path / "m.ply").exists()

    assert main(["mesh", str(tif), "--out", str(tmp_path / "m.xyz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "format" in err


def test_isosurface_of_an_sdf_sphere_and_the_volume_reading():
    r, n = 10.0, 32
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    sdf = (np.sqrt(z ** 2 + y ** 2 + x ** 2) - r).astype(np.float32)
    assert detect_sdf(sdf) and not detect_sdf(sdf > 0) and not detect_sdf(sdf, is_sdf=False)
    assert np.array_equal(foreground(sdf, True), sdf <= 0)
    verts, faces = isosurface(sdf, (1.0, 1.0, 1.0))
    radius = np.linalg.norm(verts - (n - 1) / 2, axis=1)
    assert np.abs(radius - r).max() < 0.05  # linear interpolation of an exact distance
    assert mesh_surface_area(verts, faces) == pytest.approx(4 * math.pi * r ** 2, rel=0.01)
    # outward (counter-clockwise) winding holds in the (x, y, z) frame
    assert _signed_volume(verts[:, ::-1], faces) == pytest.approx(4 / 3 * math.pi * r ** 3,
                                                                  rel=0.01)
    xyz, _ = mesh_from_volume(sdf)
    np.testing.assert_allclose(xyz, verts[:, ::-1], atol=1e-5)  # same surface, (x, y, z)


def test_isosurface_rejects_empty_full_and_bad_volumes():
    with pytest.raises(InputError, match="empty"):
        isosurface(np.zeros((5, 5, 5), np.uint8))
    with pytest.raises(InputError, match="all foreground"):
        isosurface(np.ones((5, 5, 5), np.uint8))
    with pytest.raises(InputError, match="3D"):
        check_volume(np.zeros((5, 5)))
    with pytest.raises(InputError, match="NaN"):
        check_volume(np.full((2, 2, 2), np.nan))
    with pytest.raises(InputError, match="dtype"):
        check_volume(np.zeros((2, 2, 2), complex))
    assert check_volume(np.zeros((1, 2, 2, 2)), ndim=4).shape == (1, 2, 2, 2)
