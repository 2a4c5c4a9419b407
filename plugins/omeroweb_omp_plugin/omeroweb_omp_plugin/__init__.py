"""Turns image filenames into key/value metadata in OMERO."""
