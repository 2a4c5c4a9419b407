"""Exports OMERO images as Imaris .ims files in the background."""
