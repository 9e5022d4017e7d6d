import numpy as np
import pytest
from PIL import Image

from explain.models import ProbeDataset
from explain.probes import ProbeImportError, get_probe_set, import_broden_folder, import_image_folder


def write_image(path, colour, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.mark.django_db
def test_image_folder_with_class_subfolders_keeps_the_labels(tmp_path):
    tmp_path = tmp_path / "source"  # media storage lives in tmp_path/media
    write_image(tmp_path / "cats" / "a.png", (255, 0, 0))
    write_image(tmp_path / "cats" / "b.jpg", (0, 255, 0))
    write_image(tmp_path / "dogs" / "c.png", (0, 0, 255))
    dataset = import_image_folder(tmp_path, "pets")
    probe = get_probe_set("pets")
    assert dataset.class_names == ["cats", "dogs"]
    assert probe.class_indices() == [0, 0, 1]
    assert np.asarray(probe.load_image(2))[0, 0].tolist() == [0, 0, 255]
    assert probe.concept_presence().shape == (3, 0)


@pytest.mark.django_db
def test_unreadable_image_names_the_file_and_stores_nothing(tmp_path):
    tmp_path = tmp_path / "source"  # media storage lives in tmp_path/media
    write_image(tmp_path / "good.png", (1, 2, 3))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ProbeImportError, match="broken.png: not a readable image"):
        import_image_folder(tmp_path, "bad")
    assert not ProbeDataset.objects.filter(name="bad").exists()


def make_broden(root):
    """Two images; image 0 has a 'red' colour region and 'dog' object region, and texture label 'striped'."""
    (root / "images").mkdir(parents=True)
    (root / "label.csv").write_text(
        "number,name,category,frequency,coverage,syns\n1,red-c,color(2),2,1.0,\n2,dog,object(1),1,1.0,\n3,striped,texture(1),1,1.0,\n"
    )
    write_image(root / "images" / "img0.jpg", (200, 10, 10), size=(8, 8))
    write_image(root / "images" / "img1.jpg", (10, 10, 200), size=(8, 8))
    colour = np.zeros((4, 4, 3), dtype=np.uint8)
    colour[:2, :, 0] = 1  # label 1 = red + 256*green with red channel 1
    Image.fromarray(colour).save(root / "images" / "img0_color.png")
    objects = np.zeros((4, 4, 3), dtype=np.uint8)
    objects[:, :1, 0] = 2
    Image.fromarray(objects).save(root / "images" / "img0_object.png")
    colour1 = np.zeros((4, 4, 3), dtype=np.uint8)
    colour1[3, 3, 0] = 1
    Image.fromarray(colour1).save(root / "images" / "img1_color.png")
    (root / "index.csv").write_text(
        "image,split,ih,iw,sh,sw,color,object,part,material,scene,texture\n"
        "img0.jpg,train,8,8,4,4,img0_color.png,img0_object.png,,,,3\n"
        "img1.jpg,train,8,8,4,4,img1_color.png,,,,,\n"
    )


@pytest.mark.django_db
def test_broden_layout_gives_masks_from_segmentations_and_image_level_labels(tmp_path):
    tmp_path = tmp_path / "source"  # media storage lives in tmp_path/media
    make_broden(tmp_path)
    import_broden_folder(tmp_path, "mini-broden")
    probe = get_probe_set("mini-broden")
    assert probe.concept_names == ["red-c", "dog", "striped"]
    assert probe.concept_categories == ["color", "object", "texture"]
    masks = probe.concept_masks(0)
    assert masks[0].sum() == 8 and masks[0][:2].all()
    assert masks[1][:, 0].all() and masks[1].sum() == 4
    assert masks[2].all() and masks[2].shape == (4, 4)
    assert probe.concept_presence().tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.mark.django_db
def test_broden_segmentation_with_unknown_label_is_refused_with_its_file(tmp_path):
    tmp_path = tmp_path / "source"  # media storage lives in tmp_path/media
    make_broden(tmp_path)
    bad = np.zeros((4, 4, 3), dtype=np.uint8)
    bad[0, 0, 0] = 9
    Image.fromarray(bad).save(tmp_path / "images" / "img1_color.png")
    with pytest.raises(ProbeImportError, match="img1_color.png: label number 9 is not in label.csv"):
        import_broden_folder(tmp_path, "mini-broden")
    assert not ProbeDataset.objects.exists()


@pytest.mark.django_db
def test_unknown_probe_name_lists_the_known_ones(tmp_path):
    tmp_path = tmp_path / "source"  # media storage lives in tmp_path/media
    write_image(tmp_path / "x.png", (0, 0, 0))
    import_image_folder(tmp_path, "plain")
    with pytest.raises(LookupError, match="no probing dataset named 'nope' \\(known: plain\\)"):
        get_probe_set("nope")


@pytest.mark.django_db
def test_import_probes_command_stores_a_folder_and_reports_bad_input_as_command_error(tmp_path):
    from django.core.management import CommandError, call_command

    write_image(tmp_path / "src" / "a.png", (9, 9, 9))
    call_command("import_probes", str(tmp_path / "src"), "--name", "cmd", verbosity=0)
    assert ProbeDataset.objects.get(name="cmd").images.count() == 1
    with pytest.raises(CommandError, match="index.csv: missing"):
        call_command("import_probes", str(tmp_path / "src"), "--name", "b", "--format", "broden", verbosity=0)
    with pytest.raises(CommandError, match="probing set 'cmd' already exists"):
        call_command("import_probes", str(tmp_path / "src"), "--name", "cmd", verbosity=0)
