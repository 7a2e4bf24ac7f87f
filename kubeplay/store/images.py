"""The image index: which images exist, their names and layers. The only writer of the image tables.

An image is keyed by its id (the config digest). A name belongs to at most one image: adding an
image under a name another image holds moves the name, as a re-tag or a re-pull does, and leaves the
older image without that name (dangling once it has none left, like podman's `<none>` images).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from kubeplay.errors import ConflictError, StoreCorrupted, StoreError
from kubeplay.model.image import ImageRecord
from kubeplay.store.db import Database

if TYPE_CHECKING:
    from kubeplay.model.image_summary import ImageSummary

# (diff_id, blob_digest, media_type), in order from the base layer up
LayerRow = tuple[str, str, str]

_HEX = frozenset("0123456789abcdef")


class ImageIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: ImageRecord, layers: list[LayerRow]) -> ImageRecord:
        """Record an image (or merge names into an existing one); returns it with all its names."""
        if len(layers) != len(record.diff_ids):
            raise StoreError(
                f"image {record.id}: {len(layers)} layers given for {len(record.diff_ids)} diff ids",
                hint="this is a bug in kubeplay; report it",
            )
        from kubeplay.model.serial import to_json

        with self.db.transaction() as conn:
            # an upsert, not REPLACE: a REPLACE deletes the row first, and the cascade would take its names
            conn.execute(
                "INSERT INTO images (id, manifest_digest, record, size, created_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET manifest_digest=excluded.manifest_digest, "
                "record=excluded.record, size=excluded.size",
                (record.id, record.manifest_digest, to_json(replace(record, names=())),
                 record.size, time.time()),
            )
            for name in record.names:
                # REPLACE moves the name away from whichever image held it
                conn.execute("INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?,?)", (name, record.id))
            conn.execute("DELETE FROM image_layers WHERE image_id=?", (record.id,))
            conn.executemany(
                "INSERT INTO image_layers (image_id, position, diff_id, blob_digest, media_type) VALUES (?,?,?,?,?)",
                [(record.id, position, *layer) for position, layer in enumerate(layers)],
            )
        stored = self.get_by_id(record.id)
        assert stored is not None
        return stored

    def _load(self, image_id: str) -> ImageRecord | None:
        from kubeplay.model.serial import InvalidData
        from kubeplay.store.image_records import read_image_record

        rows = self.db.query("SELECT record FROM images WHERE id=?", (image_id,))
        if not rows:
            return None
        try:
            record = read_image_record(rows[0]["record"])
        except InvalidData as exc:
            raise StoreCorrupted(f"the stored record of image {image_id} cannot be read: {exc}",
                                 hint=f"remove it (`kubeplay rmi -f {image_id}`) and pull it again") from exc
        return replace(record, names=tuple(self._names(image_id)))

    def _names(self, image_id: str) -> list[str]:
        return [r["name"] for r in self.db.query(
            "SELECT name FROM image_names WHERE image_id=? ORDER BY rowid", (image_id,))]

    def summaries(self) -> list[ImageSummary]:
        """What the listing shows of every image, newest first: a few keys of each stored record,
        which is not validated whole (inspecting or using an image does that)."""
        from kubeplay.model.image_summary import ImageSummary

        summaries = []
        for row in self.db.query("SELECT id, manifest_digest, size, record FROM images ORDER BY created_at DESC, id"):
            try:
                record = json.loads(row["record"])
            except ValueError:
                record = {}
            if not isinstance(record, dict):
                record = {}
            summaries.append(ImageSummary(
                id=row["id"], names=tuple(self._names(row["id"])), manifest_digest=row["manifest_digest"],
                size=row["size"], created=str(record.get("created", "")), os=str(record.get("os", "linux")),
                architecture=str(record.get("architecture", ""))))
        return summaries

    def get_by_name(self, name: str) -> ImageRecord | None:
        rows = self.db.query("SELECT image_id FROM image_names WHERE name=?", (name,))
        return self._load(rows[0]["image_id"]) if rows else None

    def get_by_id(self, text: str) -> ImageRecord | None:
        """By full id or a unique prefix of its hex part, with or without "sha256:"."""
        hexpart = text.removeprefix("sha256:")
        if not hexpart or not set(hexpart) <= _HEX:
            return None
        rows = self.db.query("SELECT id FROM images WHERE substr(id, 8, ?) = ?", (len(hexpart), hexpart))
        if len(rows) > 1:
            raise ConflictError(
                f"image id prefix {text!r} is ambiguous: it matches {len(rows)} images",
                hint="give more digits of the id (see `kubeplay images --no-trunc`)",
            )
        return self._load(rows[0]["id"]) if rows else None

    def get_by_manifest(self, manifest_digest: str) -> list[ImageRecord]:
        rows = self.db.query("SELECT id FROM images WHERE manifest_digest=?", (manifest_digest,))
        return [record for row in rows if (record := self._load(row["id"])) is not None]

    def names_ending_with(self, suffix: str) -> list[str]:
        """Stored names ending with `suffix` (e.g. "/busybox:latest"), for short-name lookups."""
        rows = self.db.query("SELECT name FROM image_names")
        return sorted(row["name"] for row in rows if row["name"].endswith(suffix))

    def list(self) -> list[ImageRecord]:
        """Every image, newest first."""
        rows = self.db.query("SELECT id FROM images ORDER BY created_at DESC, id")
        return [record for row in rows if (record := self._load(row["id"])) is not None]

    def layers(self, image_id: str) -> list[LayerRow]:
        rows = self.db.query(
            "SELECT diff_id, blob_digest, media_type FROM image_layers WHERE image_id=? ORDER BY position",
            (image_id,),
        )
        return [(row["diff_id"], row["blob_digest"], row["media_type"]) for row in rows]

    def remove(self, image_id: str) -> bool:
        """Forget an image with its names and layer rows (the files are the caller's to free)."""
        with self.db.transaction() as conn:
            # image_names and image_layers go with it (ON DELETE CASCADE)
            return conn.execute("DELETE FROM images WHERE id=?", (image_id,)).rowcount > 0

    def untag(self, name: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM image_names WHERE name=?", (name,)).rowcount > 0

    def layer_diff_ids_in_use(self) -> set[str]:
        return {row["diff_id"] for row in self.db.query("SELECT DISTINCT diff_id FROM image_layers")}

    def blobs_in_use(self) -> set[str]:
        """Layer blobs, manifests and configs of every image: what the content store must keep."""
        in_use = {row["blob_digest"] for row in self.db.query("SELECT DISTINCT blob_digest FROM image_layers")}
        for row in self.db.query("SELECT id, manifest_digest FROM images"):
            in_use.add(row["id"])
            in_use.add(row["manifest_digest"])
        return in_use

    def users(self, image_id: str) -> list[str]:
        """Containers made from the image, as "POD/CONTAINER"."""
        rows = self.db.query(
            "SELECT c.pod_name, c.name FROM containers c WHERE c.image_id=? ORDER BY c.pod_name, c.position",
            (image_id,),
        )
        return [f"{row['pod_name']}/{row['name']}" for row in rows]
