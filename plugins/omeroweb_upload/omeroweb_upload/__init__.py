"""Uploads files from the browser and imports them into OMERO."""
