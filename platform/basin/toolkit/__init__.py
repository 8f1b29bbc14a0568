"""The student toolkit Basin serves: one wheel, built from the sources this server runs, behind a
PEP 503 index at /simple/ (`pip install --extra-index-url <server>/simple/ basin-toolkit`)."""
