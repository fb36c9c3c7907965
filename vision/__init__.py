"""Images in: intake and normalisation, camera snapshots, and what can be known locally without seeing.

`vision.sources.open_image` (files, URLs, stdin, bytes) and `vision.camera.snapshot` give a compact upright
JPEG; `vision.describe.describe` gives the facts (size, colours, OCR text) for a model that cannot see;
`vision.intent.refers_to_camera` tells whether a question is about what the user is showing.

This package never imports `dialogue` or `hark`.
"""
