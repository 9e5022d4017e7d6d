"""The embedded default serves probe images, never concept masks or other stored files."""
import pytest


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "probes" / "set" / "masks").mkdir(parents=True)
    (tmp_path / "probes" / "set" / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\nimage")
    (tmp_path / "probes" / "set" / "masks" / "0000001.npz").write_bytes(b"PK\x03\x04masks")
    (tmp_path / "probes" / "set" / "0001.npz").write_bytes(b"PK\x03\x04masks")
    (tmp_path / "notes.txt").write_text("private")
    return tmp_path


def test_images_are_served_and_masks_and_other_files_are_not(client, media):
    image = client.get("/media/probes/set/0001.png")
    assert image.status_code == 200 and b"".join(image.streaming_content).endswith(b"image")
    for private in ["/media/probes/set/masks/0000001.npz", "/media/probes/set/0001.npz", "/media/notes.txt",
                    "/media/probes/set/../../notes.txt"]:
        assert client.get(private).status_code == 404, private
