"""tuspy, as published on PyPI, against Trove: a chunked upload with checksums, and one resumed
from its URL, both byte-identical."""

import hashlib
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from tusclient import client as tus_client

MIB = 1024 * 1024


class Trove:
    """The trove binary (TROVE_BIN) on a free port with a fresh data directory."""

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="trove-py-")
        binary = os.environ.get("TROVE_BIN", "target/debug/trove")
        self.process = subprocess.Popen(
            [binary, "serve"],
            env={
                "PATH": os.environ.get("PATH", ""),
                "TROVE_ADDR": "127.0.0.1:0",
                "TROVE_DATA_DIR": self.data_dir,
                "TROVE_LOG": "warn",
            },
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.process.stdout.readline().strip()
        second = self.process.stdout.readline().strip()
        self.url = first.removeprefix("Trove listening on ")
        self.admin_key = second.removeprefix("Admin key: ").split(" ")[0]

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"x-trove-admin-key": self.admin_key, **(headers or {})},
        )
        with urllib.request.urlopen(req) as res:
            return res.status, dict(res.headers), res.read()

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class TuspyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.trove = Trove()
        cls.data = os.urandom(6 * MIB + 123)
        cls.path = os.path.join(cls.trove.data_dir, "source.bin")
        with open(cls.path, "wb") as f:
            f.write(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.trove.stop()

    def client(self):
        return tus_client.TusClient(
            self.trove.url + "/v1/tus", headers={"x-trove-admin-key": self.trove.admin_key}
        )

    def stored_digest(self, upload_url):
        status, headers, _ = self.trove.request(
            "HEAD", upload_url.removeprefix(self.trove.url), headers={"tus-resumable": "1.0.0"}
        )
        self.assertEqual(status, 200)
        file_id = headers.get("Trove-File-Id") or headers.get("trove-file-id")
        self.assertTrue(file_id, "a finished upload names its file")
        _, _, body = self.trove.request("GET", f"/v1/files/{file_id}/content")
        return hashlib.sha256(body).hexdigest()

    def test_chunked_upload_with_checksums(self):
        uploader = self.client().uploader(
            file_path=self.path,
            chunk_size=MIB,
            metadata={"filename": "checked.bin"},
            upload_checksum=True,
        )
        uploader.upload()
        self.assertEqual(uploader.offset, len(self.data))
        self.assertEqual(self.stored_digest(uploader.url), hashlib.sha256(self.data).hexdigest())

    def test_upload_resumed_from_its_url(self):
        first = self.client().uploader(
            file_path=self.path, chunk_size=MIB, metadata={"filename": "resumed.bin"}
        )
        first.upload(stop_at=2 * MIB)
        self.assertEqual(first.offset, 2 * MIB)
        second = self.client().uploader(file_path=self.path, chunk_size=MIB, url=first.url)
        self.assertEqual(second.offset, 2 * MIB, "the server reports what it kept")
        second.upload()
        self.assertEqual(self.stored_digest(second.url), hashlib.sha256(self.data).hexdigest())


if __name__ == "__main__":
    unittest.main(verbosity=2)
